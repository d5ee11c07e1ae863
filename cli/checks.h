// Range checks for numeric options, with messages in words that name the option, the allowed
// range and the value given: "--max-new-tokens: must be between 1 and 100000, got 0".
// (CLI11's own PositiveNumber / Range print their bounds as doubles with 300 digits.)
// Attach them with ->transform(), not ->check(): a whole number is rewritten in plain decimal
// before CLI11 converts it (CLI11 reads "010" as octal 8), which ->check() would not keep.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <limits>

namespace ssm::cli {

// Whole numbers: counts, sizes, seeds.
CLI::Validator at_least(int64_t lo);
CLI::Validator in_range(int64_t lo, int64_t hi);
// Real numbers: x >= lo, and lo < x <= hi.
CLI::Validator number_at_least(double lo);
CLI::Validator number_above(double lo, double hi = std::numeric_limits<double>::infinity());

}  // namespace ssm::cli
