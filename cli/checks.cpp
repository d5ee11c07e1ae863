#include "cli/checks.h"

#include <charconv>
#include <cmath>
#include <string>

#include "core/schema.h"

namespace ssm::cli {

namespace {

// Whole values in full ("100000", not the shortest form "1e+05").
std::string plain(double x) {
  if (x == std::floor(x) && std::fabs(x) < 1e18) return std::to_string(int64_t(x));
  return schema::format_number(x);
}

// "at least 1", "between 1 and 100000", "more than 0 and at most 1".
std::string range_words(const schema::Range& r) {
  bool has_lo = r.lo != -schema::kInf, has_hi = r.hi != schema::kInf;
  if (has_lo && has_hi && !r.lo_open && !r.hi_open)
    return "between " + plain(r.lo) + " and " + plain(r.hi);
  std::string s;
  if (has_lo) s = (r.lo_open ? "more than " : "at least ") + plain(r.lo);
  if (has_hi)
    s += (s.empty() ? "" : " and ") + std::string(r.hi_open ? "less than " : "at most ") +
         plain(r.hi);
  return s;
}

// Runs before CLI11 converts the text, so text that is no number gets the same words. A whole
// number is rewritten in plain decimal: CLI11 would read "010" as octal and "0x10" as hex.
CLI::Validator range_check(schema::Range r, bool whole) {
  std::string words = range_words(r);
  auto check = [r, whole, words](std::string& text) -> std::string {
    const char* begin = text.data() + (text.starts_with('+') ? 1 : 0);
    const char* end = text.data() + text.size();
    std::string no_number = std::string("must be ") + (whole ? "a whole number " : "a number ") +
                            words + ", got '" + text + "'";
    double x = 0;
    if (whole) {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(begin, end, v);
      if (begin == end || ptr != end) return no_number;
      if (ec == std::errc::result_out_of_range) return "must be " + words + ", got " + text;
      if (ec != std::errc()) return no_number;
      x = double(v);
      if (r.contains(x)) text = std::to_string(v);
    } else {
      auto [ptr, ec] = std::from_chars(begin, end, x);
      if (begin == end || ptr != end || ec != std::errc() || !std::isfinite(x)) return no_number;
    }
    return r.contains(x) ? std::string() : "must be " + words + ", got " + text;
  };
  return CLI::Validator(check, "(" + words + ")");  // --help: "INT:(at least 1)=4"
}

}  // namespace

CLI::Validator at_least(int64_t lo) { return range_check(schema::at_least(double(lo)), true); }

CLI::Validator in_range(int64_t lo, int64_t hi) {
  return range_check(schema::between(double(lo), double(hi)), true);
}

CLI::Validator number_at_least(double lo) { return range_check(schema::at_least(lo), false); }

CLI::Validator number_above(double lo, double hi) {
  return range_check({lo, hi, /*lo_open=*/true, /*hi_open=*/false}, false);
}

}  // namespace ssm::cli
