// "Did you mean ...?": the known names closest to a misspelt one, for error messages (unknown
// config keys, sub-commands, choices).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace ssm {

// Optimal string alignment distance: insertions, deletions, substitutions, transpositions.
size_t edit_distance(const std::string& a, const std::string& b);

// How many edits away a typo of `word` may be: 1 for up to 3 letters, 2 up to 8, else 3.
size_t typo_distance(const std::string& word);

// The names closest to `word` (case-insensitive) within `limit` edits (typo_distance(word) when
// not given), in the order given; empty when none is that close.
std::vector<std::string> closest_names(const std::string& word, const std::vector<std::string>& names,
                                       size_t limit);
std::vector<std::string> closest_names(const std::string& word, const std::vector<std::string>& names);

// "; did you mean 'train'?" (or "'a' or 'b'") for the closest names; "" when none is close.
std::string did_you_mean(const std::string& word, const std::vector<std::string>& names);

}  // namespace ssm
