// ssm::Error and the checks that raise it.
//
// Every user-facing failure is an ssm::Error whose message names the op or field, the shapes,
// dtypes or values involved, and what was expected. SSM_CHECK streams its arguments into that
// message only when the check fails, so checks cost a branch on the hot path.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

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

}  // namespace ssm

// SSM_CHECK(cond, "op: ", x, " expected ...") throws ssm::Error with the concatenated message.
#define SSM_CHECK(cond, ...)                                 \
  do {                                                       \
    if (!(cond)) [[unlikely]] ::ssm::detail::fail(__VA_ARGS__); \
  } while (0)

#define SSM_FAIL(...) ::ssm::detail::fail(__VA_ARGS__)
