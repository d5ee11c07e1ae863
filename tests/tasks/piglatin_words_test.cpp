// The word sets: the tokenisation rule, the small / large construction on synthetic input, and
// the committed data/piglatin_{small,large}.tsv (exact sizes, unique words, translations that
// match to_pig_latin, the small set a prefix of the large one).
#include "tasks/piglatin/words.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>

#include "core/error.h"
#include "tasks/piglatin/piglatin.h"
#include "tasks/piglatin/dataset.h"
#include "support/errors.h"
#include "support/paths.h"

using ssm::testing::error_of;

namespace ssm::tasks {
namespace {

using namespace ssm::data;  // tokenizers, readers, the fetcher

const std::string kRepoData = ssm::testing::source_dir() + "/data";

using Words = std::vector<std::string>;

TEST(PigLatinWords, SplitWords) {
  EXPECT_EQ(split_words("The family of Dashwood had long been settled in Sussex."),
            (Words{"the", "family", "of", "dashwood", "had", "long", "been", "settled", "in",
                   "sussex"}));
  // Inner single hyphens join; dashes, leading and trailing hyphens do not.
  EXPECT_EQ(split_words("pleasure-grounds--and a well-bred brother-in-law; end- -start"),
            (Words{"pleasure-grounds", "and", "a", "well-bred", "brother-in-law", "end", "start"}));
  // Contractions, possessives and accented words are dropped whole; underscores, digits and
  // quotes separate words.
  EXPECT_EQ(split_words("Marianne's \"don't\" _very_ 'tis ma'am caf\xc3\xa9 na\xc3\xafve x1y"),
            (Words{"very", "tis", "x", "y"}));
  EXPECT_EQ(split_words(std::string(33, 'a') + " " + std::string(32, 'b')),
            (Words{std::string(32, 'b')}));
  EXPECT_TRUE(split_words("").empty());
  EXPECT_TRUE(split_words("1811 -- ... ?").empty());
}

// A synthetic word for index i: `prefix` followed by i in base 26 letters.
std::string synthetic(size_t i, const char* prefix = "w") {
  std::string s = prefix;
  do {
    s += char('a' + i % 26);
    i /= 26;
  } while (i);
  return s;
}

TEST(PigLatinWords, SmallSetSkipsTheTitlePageAndKeepsFirstAppearances) {
  std::vector<std::string> lines = {"SENSE AND SENSIBILITY", "", "by Jane Austen", "CHAPTER 1",
                                    "The family of the family", ""};
  std::string body;
  for (size_t i = 0; i < kSmallSetSize + 10; ++i) body += synthetic(i) + " ";
  lines.push_back(body);
  Words small = small_word_set(lines);
  ASSERT_EQ(small.size(), kSmallSetSize);
  EXPECT_EQ(small[0], "the");
  EXPECT_EQ(small[1], "family");
  EXPECT_EQ(small[2], "of");
  EXPECT_EQ(small[3], synthetic(0));
  EXPECT_EQ(small.back(), synthetic(kSmallSetSize - 4));

  EXPECT_NE(error_of([] { small_word_set({"no chapters here"}); }).find("no \"CHAPTER\" line"),
            std::string::npos);
  std::string m = error_of([] { small_word_set({"CHAPTER 1", "only a few words"}); });
  EXPECT_NE(m.find("only 4 distinct words"), std::string::npos) << m;
}

TEST(PigLatinWords, ParsePopularWords) {
  EXPECT_EQ(parse_popular_words("var words = ['the','of', \"in\"\n ,'and']\n\nexport {words}\n", "w.js"),
            (Words{"the", "of", "in", "and"}));
  struct Case {
    const char* js;
    const char* expected;
  };
  for (Case c : {Case{"var words = 3", "no '['"}, Case{"['a' 'b']", "expected ',' or ']' at byte 5"},
                 Case{"['a',", "not closed"}, Case{"['a", "unterminated string at byte 1"},
                 Case{"[]", "the word array is empty"}, Case{"[1]", "expected a quoted word at byte 1"},
                 Case{"['a\\'b']", "escape sequence"}}) {
    std::string m = error_of([&] { parse_popular_words(c.js, "w.js"); });
    EXPECT_NE(m.find(c.expected), std::string::npos) << c.js << ": " << m;
    EXPECT_EQ(m.rfind("w.js: ", 0), 0u) << m;
  }
}

TEST(PigLatinWords, LargeSetAddsPopularWordsInOrderUntilItsSize) {
  Words small;
  for (size_t i = 0; i < kSmallSetSize; ++i) small.push_back(synthetic(i));
  // Popular words: repeats of small words, words not pure a-z, then new words.
  Words popular = {synthetic(0), "New", "x-ray", "o'clock", "caf\xc3\xa9", synthetic(5)};
  for (size_t i = 0; i < kLargeSetSize; ++i) popular.push_back(synthetic(i, "pw"));
  size_t used = 0;
  Words large = large_word_set(small, popular, &used);
  ASSERT_EQ(large.size(), kLargeSetSize);
  EXPECT_TRUE(std::equal(small.begin(), small.end(), large.begin()));
  EXPECT_EQ(large[kSmallSetSize], synthetic(0, "pw"));
  EXPECT_EQ(used, 6 + (kLargeSetSize - kSmallSetSize));
  popular.resize(100);
  std::string m = error_of([&] { large_word_set(small, popular); });
  EXPECT_NE(m.find("only 3292 words after all 100 popular words"), std::string::npos) << m;
}

TEST(PigLatinWords, PairsTsv) {
  EXPECT_EQ(pairs_tsv({"team", "pleasure-grounds"}),
            "team\teamtay\npleasure-grounds\teasureplay-oundsgray\n");
}

// The committed sets, built by `ssm data build`.
TEST(PigLatinWords, CommittedSets) {
  std::vector<WordPair> small = load_pairs_tsv(kRepoData + "/piglatin_small.tsv");
  std::vector<WordPair> large = load_pairs_tsv(kRepoData + "/piglatin_large.tsv");
  ASSERT_EQ(small.size(), kSmallSetSize);  // load_pairs_tsv rejects repeated words
  ASSERT_EQ(large.size(), kLargeSetSize);
  EXPECT_EQ(small[0].source, "the");
  EXPECT_EQ(small[0].target, "ethay");
  EXPECT_EQ(small[1].source, "family");
  EXPECT_EQ(small[2].source, "of");
  for (size_t i = 0; i < small.size(); ++i) {
    EXPECT_EQ(large[i].source, small[i].source) << "the small set is a prefix, row " << i;
    EXPECT_EQ(large[i].target, small[i].target) << i;
  }
  std::set<std::string> hyphenated;
  for (size_t i = 0; i < large.size(); ++i) {
    EXPECT_EQ(large[i].target, to_pig_latin(large[i].source)) << large[i].source;
    if (large[i].source.find('-') != std::string::npos) {
      EXPECT_LT(i, kSmallSetSize) << "popular words are pure a-z: " << large[i].source;
      hyphenated.insert(large[i].source);
    }
  }
  EXPECT_TRUE(hyphenated.count("mother-in-law"));
  EXPECT_EQ(hyphenated.size(), 43u);
}

}  // namespace
}  // namespace ssm::tasks
