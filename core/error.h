// ssm::Error and the checks that raise it.
//
// Every user-facing failure is an ssm::Error whose message names the op or field, the shapes,
// dtypes or values involved, and what was expected. SSM_CHECK streams its arguments into that
// message only when the check fails, so checks cost a branch on the hot path.
#pragma once

#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace ssm {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail

// `word` quoted for an error message, shortened when long and with unprintable bytes escaped.
inline std::string quote_word(std::string_view word) {
  constexpr size_t kShown = 40;
  std::string out = "'";
  for (size_t i = 0; i < word.size() && i < kShown; ++i) {
    unsigned char c = static_cast<unsigned char>(word[i]);
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += char(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  out += "'";
  if (word.size() > kShown) out += " (" + std::to_string(word.size()) + " characters)";
  return out;
}

}  // namespace ssm

// SSM_CHECK(cond, "op: ", x, " expected ...") throws ssm::Error with the concatenated message.
#define SSM_CHECK(cond, ...)                                 \
  do {                                                       \
    if (!(cond)) [[unlikely]] ::ssm::detail::fail(__VA_ARGS__); \
  } while (0)

#define SSM_FAIL(...) ::ssm::detail::fail(__VA_ARGS__)
