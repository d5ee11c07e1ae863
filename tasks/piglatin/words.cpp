#include "tasks/piglatin/words.h"

#include <unordered_set>

#include "core/error.h"
#include "tasks/piglatin/piglatin.h"

namespace ssm::tasks {

namespace {

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || static_cast<unsigned char>(c) >= 0x80;
}

bool is_plain_word(std::string_view w) {
  if (w.empty() || w.size() > kMaxWordLength) return false;
  for (char c : w)
    if (!((c >= 'a' && c <= 'z') || c == '-')) return false;
  return true;
}

}  // namespace

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0, n = text.size();
  while (i < n) {
    if (!is_letter(text[i])) {
      ++i;
      continue;
    }
    std::string w;
    while (i < n) {
      if (is_letter(text[i])) {
        char c = text[i++];
        w += (c >= 'A' && c <= 'Z') ? char(c - 'A' + 'a') : c;
      } else if ((text[i] == '\'' || text[i] == '-') && i + 1 < n && is_letter(text[i + 1])) {
        w += text[i++];
      } else {
        break;
      }
    }
    if (is_plain_word(w)) words.push_back(std::move(w));
  }
  return words;
}

std::vector<std::string> small_word_set(const std::vector<std::string>& sense_and_sensibility) {
  size_t first = 0;
  while (first < sense_and_sensibility.size() &&
         sense_and_sensibility[first].rfind("CHAPTER", 0) != 0)
    ++first;
  SSM_CHECK(first < sense_and_sensibility.size(),
            "small word set: Sense and Sensibility has no \"CHAPTER\" line");
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (size_t l = first + 1; l < sense_and_sensibility.size() && out.size() < kSmallSetSize; ++l)
    for (std::string& w : split_words(sense_and_sensibility[l]))
      if (out.size() < kSmallSetSize && seen.insert(w).second) out.push_back(std::move(w));
  SSM_CHECK(out.size() == kSmallSetSize, "small word set: Sense and Sensibility has only ",
            out.size(), " distinct words, ", kSmallSetSize, " are needed");
  return out;
}

std::vector<std::string> parse_popular_words(std::string_view js, const std::string& source) {
  size_t open = js.find('[');
  SSM_CHECK(open != std::string_view::npos, source, ": no '[' starting the word array");
  std::vector<std::string> words;
  size_t i = open + 1;
  auto skip_space = [&] {
    while (i < js.size() && (js[i] == ' ' || js[i] == '\n' || js[i] == '\r' || js[i] == '\t')) ++i;
  };
  for (;;) {
    skip_space();
    SSM_CHECK(i < js.size(), source, ": the word array is not closed");
    if (js[i] == ']' && words.empty()) break;
    char quote = js[i];
    SSM_CHECK(quote == '\'' || quote == '"', source, ": expected a quoted word at byte ", i,
              ", found '", js[i], "'");
    size_t end = js.find(quote, i + 1);
    SSM_CHECK(end != std::string_view::npos, source, ": unterminated string at byte ", i);
    std::string_view w = js.substr(i + 1, end - i - 1);
    SSM_CHECK(w.find('\\') == std::string_view::npos, source,
              ": escape sequence in the word at byte ", i, " is not supported");
    words.emplace_back(w);
    i = end + 1;
    skip_space();
    SSM_CHECK(i < js.size(), source, ": the word array is not closed");
    if (js[i] == ']') break;
    SSM_CHECK(js[i] == ',', source, ": expected ',' or ']' at byte ", i, ", found '", js[i], "'");
    ++i;
  }
  SSM_CHECK(!words.empty(), source, ": the word array is empty");
  return words;
}

std::vector<std::string> large_word_set(const std::vector<std::string>& small,
                                        const std::vector<std::string>& popular,
                                        size_t* popular_used) {
  std::vector<std::string> out = small;
  std::unordered_set<std::string> seen(small.begin(), small.end());
  SSM_CHECK(seen.size() == small.size(), "large word set: the small set has repeated words");
  size_t used = 0;
  while (out.size() < kLargeSetSize && used < popular.size()) {
    const std::string& w = popular[used++];
    if (w.find('-') == std::string::npos && is_plain_word(w) && seen.insert(w).second)
      out.push_back(w);
  }
  SSM_CHECK(out.size() == kLargeSetSize, "large word set: only ", out.size(), " words after all ",
            popular.size(), " popular words; ", kLargeSetSize, " are needed");
  if (popular_used) *popular_used = used;
  return out;
}

std::string pairs_tsv(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += w + '\t' + to_pig_latin(w) + '\n';
  return out;
}

}  // namespace ssm::tasks
