// `ssm data build`: fetch what is missing, then derive the data sets from the raw packages.
#pragma once

#include <ostream>
#include <string>

namespace ssm::data {

inline constexpr const char* kDefaultDataDir = "data";
inline constexpr const char* kSmallTsv = "piglatin_small.tsv";
inline constexpr const char* kLargeTsv = "piglatin_large.tsv";
inline constexpr const char* kAustenText = "austen.txt";

// Fetches into `raw_dir` (data/fetch.h), then writes into `out_dir` (created if needed):
// piglatin_small.tsv and piglatin_large.tsv (data/piglatin_words.h; committed in the repository's
// data/) and austen.txt (data/austen.h; 4 MB, not committed). Logs what it does and the counts.
void build_data(const std::string& raw_dir, const std::string& out_dir, std::ostream& log);

}  // namespace ssm::data
