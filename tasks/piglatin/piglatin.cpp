#include "tasks/piglatin/piglatin.h"

#include <cstdio>

#include "core/error.h"

namespace ssm::tasks {

namespace {

bool is_vowel(char c) { return c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u'; }

// One hyphen-free part, already validated.
std::string translate_part(std::string_view part) {
  if (is_vowel(part[0])) return std::string(part) + "way";
  size_t i = 1;  // the first letter is a consonant, 'y' included
  while (i < part.size()) {
    char c = part[i];
    bool u_after_q = c == 'u' && part[i - 1] == 'q';
    if ((is_vowel(c) || c == 'y') && !u_after_q) break;
    ++i;
  }
  return std::string(part.substr(i)) + std::string(part.substr(0, i)) + "ay";
}

std::string describe_char(unsigned char c) {
  char buf[16];
  if (c >= 0x20 && c < 0x7F)
    std::snprintf(buf, sizeof buf, "'%c'", c);
  else
    std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
  return buf;
}

}  // namespace

void check_word(std::string_view word) {
  SSM_CHECK(!word.empty(), "pig latin: empty word");
  SSM_CHECK(word.size() <= kMaxWordLength, "pig latin: word ", quote_word(word), " is ",
            word.size(), " characters long; the limit is ", kMaxWordLength);
  for (size_t i = 0; i < word.size(); ++i) {
    char c = word[i];
    if (c >= 'a' && c <= 'z') continue;
    if (c == '-') {
      SSM_CHECK(i > 0, "pig latin: word ", quote_word(word), " starts with a hyphen");
      SSM_CHECK(i + 1 < word.size(), "pig latin: word ", quote_word(word), " ends with a hyphen");
      SSM_CHECK(word[i + 1] != '-', "pig latin: word ", quote_word(word),
                " has two hyphens in a row at character ", i + 1);
      continue;
    }
    SSM_FAIL("pig latin: word ", quote_word(word), " has ",
             describe_char(static_cast<unsigned char>(c)),
             " at character ", i + 1, "; only lowercase letters a-z and '-' are allowed",
             c >= 'A' && c <= 'Z' ? " (lowercase the word)" : "");
  }
}

std::string to_pig_latin(std::string_view word) {
  check_word(word);
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t end = word.find('-', start);
    out += translate_part(word.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    out += '-';
    start = end + 1;
  }
  return out;
}

}  // namespace ssm::tasks
