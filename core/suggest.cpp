#include "core/suggest.h"

#include <algorithm>
#include <cctype>

namespace ssm {

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

size_t typo_distance(const std::string& word) {
  return word.size() <= 3 ? 1 : word.size() <= 8 ? 2 : 3;
}

std::vector<std::string> closest_names(const std::string& word, const std::vector<std::string>& names,
                                       size_t limit) {
  std::vector<std::string> best;
  size_t best_d = limit;
  for (const std::string& name : names) {
    size_t d = edit_distance(lower(word), lower(name));
    if (d > best_d) continue;
    if (d < best_d) {
      best_d = d;
      best.clear();
    }
    if (std::find(best.begin(), best.end(), name) == best.end()) best.push_back(name);
  }
  return best;
}

std::vector<std::string> closest_names(const std::string& word, const std::vector<std::string>& names) {
  return closest_names(word, names, typo_distance(word));
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& names) {
  std::vector<std::string> best = closest_names(word, names);
  std::string out;
  for (size_t i = 0; i < best.size(); ++i) out += (i ? " or '" : "'") + best[i] + "'";
  return out.empty() ? "" : "; did you mean " + out + "?";
}

}  // namespace ssm
