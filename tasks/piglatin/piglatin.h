// Pig Latin, the translation task of the course assignment in seeds/003, with every case the
// assignment leaves open decided here (and in the README):
//   - A word is lowercase letters a-z, possibly hyphenated; each part between hyphens is
//     translated on its own and the hyphens kept: pleasure-grounds -> easureplay-oundsgray.
//   - A part whose first letter is a vowel (a e i o u) gets "way": impress -> impressway.
//   - Otherwise its leading consonant cluster, every letter before the first vowel, moves to the
//     end and "ay" follows: team -> eamtay, shopping -> oppingshay, string -> ingstray.
//   - 'y' is a consonant as the first letter and a vowel anywhere after it:
//     yellow -> ellowyay, rhythm -> ythmrhay, my -> ymay, style -> ylestay.
//   - A 'u' right after a 'q' belongs to the cluster: queen -> eenquay, square -> aresquay.
//   - A part with no vowel at all stays whole and gets "ay": nth -> nthay.
// Words are validated first; see check_word.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ssm::tasks {

inline constexpr size_t kMaxWordLength = 32;

// Throws ssm::Error naming the word and its problem when it is not a word to_pig_latin accepts:
// empty; longer than kMaxWordLength; a character other than a-z and '-' (named, with its
// 1-based position); a leading, trailing or doubled hyphen.
void check_word(std::string_view word);

// The Pig-Latin translation of `word` (validated with check_word).
std::string to_pig_latin(std::string_view word);


}  // namespace ssm::tasks
