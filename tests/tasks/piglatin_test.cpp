// Pig Latin: the assignment's examples, the rules this project decided (y, qu, no vowel,
// hyphens), and every validation error.
#include "tasks/piglatin/piglatin.h"

#include <gtest/gtest.h>

#include <string>

#include "core/error.h"

namespace ssm::tasks {
namespace {

std::string error_of(const std::string& word) {
  try {
    to_pig_latin(word);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(PigLatin, AssignmentExamples) {
  EXPECT_EQ(to_pig_latin("team"), "eamtay");
  EXPECT_EQ(to_pig_latin("impress"), "impressway");
  EXPECT_EQ(to_pig_latin("shopping"), "oppingshay");
  EXPECT_EQ(to_pig_latin("pleasure-grounds"), "easureplay-oundsgray");
  // The assignment's dataset and writeup.
  EXPECT_EQ(to_pig_latin("the"), "ethay");
  EXPECT_EQ(to_pig_latin("family"), "amilyfay");
  EXPECT_EQ(to_pig_latin("of"), "ofway");
  EXPECT_EQ(to_pig_latin("brown"), "ownbray");
  EXPECT_EQ(to_pig_latin("conditioning"), "onditioningcay");
  EXPECT_EQ(to_pig_latin("is"), "isway");
  EXPECT_EQ(to_pig_latin("i"), "iway");
}

TEST(PigLatin, ConsonantClusters) {
  EXPECT_EQ(to_pig_latin("string"), "ingstray");
  EXPECT_EQ(to_pig_latin("chair"), "airchay");
  EXPECT_EQ(to_pig_latin("b"), "bay");  // a lone consonant has no vowel
}

TEST(PigLatin, VowelsStartingWords) {
  for (const char* w : {"apple", "egg", "ink", "out", "under"})
    EXPECT_EQ(to_pig_latin(w), std::string(w) + "way") << w;
}

TEST(PigLatin, YIsAConsonantFirstAndAVowelAfter) {
  EXPECT_EQ(to_pig_latin("yellow"), "ellowyay");
  EXPECT_EQ(to_pig_latin("yes"), "esyay");
  EXPECT_EQ(to_pig_latin("rhythm"), "ythmrhay");
  EXPECT_EQ(to_pig_latin("my"), "ymay");
  EXPECT_EQ(to_pig_latin("style"), "ylestay");
  EXPECT_EQ(to_pig_latin("y"), "yay");
  EXPECT_EQ(to_pig_latin("yy"), "yyay");  // the second y is a vowel: cluster "y", rest "y"
}

TEST(PigLatin, UAfterQStaysWithTheCluster) {
  EXPECT_EQ(to_pig_latin("queen"), "eenquay");
  EXPECT_EQ(to_pig_latin("square"), "aresquay");
  EXPECT_EQ(to_pig_latin("quiet"), "ietquay");
  EXPECT_EQ(to_pig_latin("qatar"), "atarqay");  // no u: q alone
  EXPECT_EQ(to_pig_latin("usual"), "usualway");  // a u starting the word is a vowel
  EXPECT_EQ(to_pig_latin("guard"), "uardgay");  // u after another consonant is a vowel
}

TEST(PigLatin, WordsWithoutVowelsStayWhole) {
  EXPECT_EQ(to_pig_latin("nth"), "nthay");
  EXPECT_EQ(to_pig_latin("hmm"), "hmmay");
  EXPECT_EQ(to_pig_latin("qu"), "quay");
}

TEST(PigLatin, HyphenatedWordsTranslatePartByPart) {
  EXPECT_EQ(to_pig_latin("brother-in-law"), "otherbray-inway-awlay");
  EXPECT_EQ(to_pig_latin("well-bred"), "ellway-edbray");
  EXPECT_EQ(to_pig_latin("a-b"), "away-bay");
}

TEST(PigLatin, LengthLimitIsInclusive) {
  std::string ok(kMaxWordLength, 'a');
  EXPECT_EQ(to_pig_latin(ok), ok + "way");
  std::string msg = error_of(ok + "a");
  EXPECT_NE(msg.find("33 characters long; the limit is 32"), std::string::npos) << msg;
}

TEST(PigLatin, ValidationErrorsNameTheWordAndTheProblem) {
  EXPECT_NE(error_of("").find("empty word"), std::string::npos);
  std::string m = error_of("Hello");
  EXPECT_NE(m.find("'Hello' has 'H' at character 1"), std::string::npos) << m;
  EXPECT_NE(m.find("lowercase"), std::string::npos) << m;
  m = error_of("don't");
  EXPECT_NE(m.find("'don't' has ''' at character 4"), std::string::npos) << m;
  m = error_of("caf\xc3\xa9");
  EXPECT_NE(m.find("byte 0xC3 at character 4"), std::string::npos) << m;
  EXPECT_NE(m.find("'caf\\xC3\\xA9'"), std::string::npos) << m;
  m = error_of("two words");
  EXPECT_NE(m.find("' ' at character 4"), std::string::npos) << m;
  m = error_of("abc1");
  EXPECT_NE(m.find("'1' at character 4"), std::string::npos) << m;
  EXPECT_NE(error_of("-abc").find("'-abc' starts with a hyphen"), std::string::npos);
  EXPECT_NE(error_of("abc-").find("'abc-' ends with a hyphen"), std::string::npos);
  m = error_of("ab--c");
  EXPECT_NE(m.find("'ab--c' has two hyphens in a row at character 3"), std::string::npos) << m;
  EXPECT_NE(error_of("-").find("starts with a hyphen"), std::string::npos);
}

TEST(PigLatin, LongWordsAreShortenedInErrors) {
  std::string m = error_of(std::string(1000, 'x'));
  EXPECT_NE(m.find("(1000 characters)"), std::string::npos) << m;
  EXPECT_LT(m.size(), 200u) << m;
}

}  // namespace
}  // namespace ssm::tasks
