// Data sets: TSV loading and its errors, the seeded 80/20 split, length-grouped batches with
// their loss mask, and the byte-LM windows and chunks.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "core/error.h"
#include "tasks/piglatin/piglatin.h"
#include "tasks/piglatin/dataset.h"
#include "data/shuffle.h"
#include "data/text_dataset.h"
#include "support/errors.h"
#include "support/paths.h"

using ssm::testing::error_of;

namespace ssm::data {
namespace {

using namespace ssm::tasks;  // the Pig-Latin data set

// n distinct pairs of varied lengths.
std::vector<WordPair> make_pairs(size_t n) {
  std::vector<WordPair> pairs;
  for (size_t i = 0; i < n; ++i) {
    std::string w;  // four base-26 digits make it unique, the suffix varies the length
    for (size_t k = i, d = 0; d < 4; ++d, k /= 26) w += char('a' + k % 26);
    w += std::string(i % 5, 'q');
    pairs.push_back({w, to_pig_latin(w)});
  }
  return pairs;
}

TEST(DatasetTsv, ParsesPairs) {
  auto pairs = parse_pairs_tsv("team\teamtay\r\nimpress\timpressway\n", "t.tsv");
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].source, "team");
  EXPECT_EQ(pairs[0].target, "eamtay");
  EXPECT_EQ(pairs[1].target, "impressway");
  EXPECT_EQ(parse_pairs_tsv("a\tb", "t").size(), 1u) << "no final newline";
}

TEST(DatasetTsv, ErrorsNameTheFileAndLine) {
  struct Case {
    std::string text, expected;
  };
  std::vector<Case> cases = {
      {"", "t.tsv: no word pairs"},
      {"team\teamtay\nimpress impressway\n", "t.tsv:2: expected `english<TAB>piglatin`"},
      {"a\tb\tc\n", "t.tsv:1: expected"},
      {"team\teamtay\n\n", "t.tsv:2: expected"},
      {"Team\teamtay\n", "t.tsv:1: pig latin: word 'Team' has 'T' at character 1"},
      {"\teamtay\n", "t.tsv:1: pig latin: empty word"},
      {"team\t\n", "t.tsv:1: empty translation of 'team'"},
      {"team\team tay\n", "t.tsv:1: translation 'eam tay' has a character other than a-z and '-' at character 4"},
      {"a\tb\nc\td\na\te\n", "t.tsv:3: 'a' was already given on line 1"},
  };
  for (const Case& c : cases) {
    std::string m = error_of([&] { parse_pairs_tsv(c.text, "t.tsv"); });
    EXPECT_NE(m.find(c.expected), std::string::npos) << c.text << "\n  gave: " << m;
  }
  std::string m = error_of([] { load_pairs_tsv("/nonexistent/p.tsv"); });
  EXPECT_NE(m.find("cannot open '/nonexistent/p.tsv'"), std::string::npos) << m;
}

TEST(DatasetSplit, DeterministicDisjointAndEightyTwenty) {
  auto pairs = make_pairs(3198);
  PairSplit a = split_pairs(pairs, 7), b = split_pairs(pairs, 7), c = split_pairs(pairs, 8);
  EXPECT_EQ(a.validation.size(), 640u);  // round(3198 * 0.2)
  EXPECT_EQ(a.train.size(), 2558u);
  std::set<std::string> train, val;
  for (const auto& p : a.train) train.insert(p.source);
  for (const auto& p : a.validation) val.insert(p.source);
  for (const auto& w : val) EXPECT_FALSE(train.count(w)) << w;
  EXPECT_EQ(train.size() + val.size(), pairs.size());
  auto sources = [](const std::vector<WordPair>& v) {
    std::vector<std::string> s;
    for (const auto& p : v) s.push_back(p.source);
    return s;
  };
  EXPECT_EQ(sources(a.validation), sources(b.validation));
  EXPECT_NE(sources(a.validation), sources(c.validation));
  // Each part keeps file order.
  auto index_of = [&](const std::string& w) {
    return std::find_if(pairs.begin(), pairs.end(), [&](const WordPair& p) { return p.source == w; }) -
           pairs.begin();
  };
  for (size_t i = 1; i < a.validation.size(); ++i)
    EXPECT_LT(index_of(a.validation[i - 1].source), index_of(a.validation[i].source));
  EXPECT_EQ(split_pairs(make_pairs(22402), 0).validation.size(), 4480u);
}

TEST(DatasetSplit, SameOnEveryMachine) {
  // Pinned values: Philox and the shuffle are specified exactly, so these never change.
  std::vector<int64_t> p = random_permutation(10, 1234);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[size_t(i)], i);
  EXPECT_EQ(p, random_permutation(10, 1234));
  EXPECT_NE(p, random_permutation(10, 1234, 1));
  EXPECT_EQ(p, (std::vector<int64_t>{4, 9, 6, 8, 1, 5, 7, 2, 3, 0}));
  // The committed small set's split for seed 0.
  std::string small = ssm::testing::source_dir() + "/data/piglatin_small.tsv";
  PairSplit s = split_pairs(load_pairs_tsv(small), 0);
  ASSERT_EQ(s.validation.size(), 640u);
  ASSERT_EQ(s.train.size(), 2558u);
  const char* val[] = {"been", "settled", "at", "where"};
  const char* train[] = {"the", "family", "of", "dashwood"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(s.validation[size_t(i)].source, val[i]);
    EXPECT_EQ(s.train[size_t(i)].source, train[i]);
  }
}

TEST(DatasetEncode, LossMaskCoversTheTargetAndEos) {
  CharTokenizer tok;
  EncodedPair e = encode_pair(tok, {"ab", "baay"});
  // ids: <sos> a b <sep> b a a y <eos>
  const int64_t a = 4, b = 5, y = 28;
  EXPECT_EQ(e.ids, (std::vector<int64_t>{1, a, b, 3, b, a, a, y, 2}));
  const int64_t I = kIgnoreIndex;
  // targets[i] = ids[i + 1] from the separator on: predicting b a a y <eos>.
  EXPECT_EQ(e.targets, (std::vector<int64_t>{I, I, I, b, a, a, y, 2, I}));
  std::string m = error_of([&] { encode_pair(tok, {"ab", "b!"}); });
  EXPECT_NE(m.find("'!' at character 2 of 'b!'"), std::string::npos) << m;
}

TEST(DatasetBatches, GroupedByLengthEveryExampleOncePerEpoch) {
  CharTokenizer tok;
  auto pairs = make_pairs(500);
  PairBatches batches(pairs, tok, 16);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    auto plan = batches.epoch_plan(42, epoch);
    std::vector<int> seen(pairs.size(), 0);
    std::map<int64_t, int> partial_per_length;
    for (const auto& rows : plan) {
      ASSERT_FALSE(rows.empty());
      ASSERT_LE(rows.size(), 16u);
      Batch bt = batches.batch(rows);
      int64_t len = bt.ids.size(1);
      EXPECT_EQ(bt.ids.shape(), (Shape{int64_t(rows.size()), len}));
      EXPECT_EQ(bt.targets.shape(), bt.ids.shape());
      EXPECT_EQ(bt.ids.dtype(), DType::i64);
      for (int64_t r : rows) {
        EXPECT_EQ(int64_t(batches.example(r).ids.size()), len);
        ++seen[size_t(r)];
      }
      if (rows.size() < 16) ++partial_per_length[len];
    }
    for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], 1) << "example " << i;
    for (const auto& [len, n] : partial_per_length) EXPECT_LE(n, 1) << "length " << len;
    size_t expected_batches = 0;
    for (const auto& [len, rows] : batches.by_length()) expected_batches += (rows.size() + 15) / 16;
    EXPECT_EQ(plan.size(), expected_batches);
  }
  EXPECT_EQ(batches.epoch_plan(42, 1), batches.epoch_plan(42, 1));
  EXPECT_NE(batches.epoch_plan(42, 1), batches.epoch_plan(42, 2));
  EXPECT_NE(batches.epoch_plan(42, 1), batches.epoch_plan(43, 1));
  auto fixed = batches.fixed_plan();
  EXPECT_EQ(fixed.size(), batches.epoch_plan(0, 0).size());
  EXPECT_EQ(fixed, batches.fixed_plan());
}

TEST(DatasetBatches, BatchTensorsHoldTheExamples) {
  CharTokenizer tok;
  PairBatches batches({{"ab", "baay"}, {"ba", "abay"}, {"abc", "abcway"}}, tok, 8);
  ASSERT_EQ(batches.by_length().size(), 2u);
  EXPECT_EQ(batches.by_length().at(9), (std::vector<int64_t>{0, 1}));
  std::vector<int64_t> rows = {1, 0};
  Batch bt = batches.batch(rows);
  const int64_t I = kIgnoreIndex;
  EXPECT_EQ(bt.ids.to_vector<int64_t>(),
            (std::vector<int64_t>{1, 5, 4, 3, 4, 5, 4, 28, 2, 1, 4, 5, 3, 5, 4, 4, 28, 2}));
  EXPECT_EQ(bt.targets.to_vector<int64_t>(),
            (std::vector<int64_t>{I, I, I, 4, 5, 4, 28, 2, I, I, I, I, 5, 4, 4, 28, 2, I}));
  std::vector<int64_t> mixed = {0, 2};
  EXPECT_NE(error_of([&] { batches.batch(mixed); }).find("has length 12, the batch's is 9"),
            std::string::npos);
  std::vector<int64_t> bad = {3};
  EXPECT_NE(error_of([&] { batches.batch(bad); }).find("example 3 out of range"),
            std::string::npos);
  EXPECT_NE(error_of([&] { PairBatches(make_pairs(3), tok, 0); }).find("batch size must be > 0"),
            std::string::npos);
}

TEST(DatasetText, SplitByPosition) {
  std::string text(1000, 'x');
  for (size_t i = 0; i < text.size(); ++i) text[i] = char('a' + i % 26);
  TextSplit s = split_text(text);
  EXPECT_EQ(s.train.size(), 900u);
  EXPECT_EQ(s.validation.size(), 100u);
  EXPECT_EQ(s.train + s.validation, text);
}

TEST(DatasetText, WindowsAreShiftedByOne) {
  std::string text;
  for (int i = 0; i < 300; ++i) text += char(i % 256);
  Generator g(3), h(3);
  Batch b = sample_windows(text, 4, 10, g);
  EXPECT_EQ(b.ids.shape(), (Shape{4, 10}));
  auto ids = b.ids.to_vector<int64_t>(), tg = b.targets.to_vector<int64_t>();
  for (int r = 0; r < 4; ++r)
    for (int t = 0; t < 10; ++t) {
      EXPECT_EQ(tg[size_t(r * 10 + t)], (ids[size_t(r * 10 + t)] + 1) % 256);
      if (t) {
        EXPECT_EQ(ids[size_t(r * 10 + t)], (ids[size_t(r * 10 + t - 1)] + 1) % 256);
      }
    }
  EXPECT_EQ(sample_windows(text, 4, 10, h).ids.to_vector<int64_t>(), ids) << "same seed";
  std::string m = error_of([&] { sample_windows("abc", 1, 3, g); });
  EXPECT_NE(m.find("a window of 4 bytes does not fit in 3 bytes"), std::string::npos) << m;
  Batch tight = sample_windows("abcd", 2, 3, g);  // only one window fits
  EXPECT_EQ(tight.targets.to_vector<int64_t>(), (std::vector<int64_t>{'b', 'c', 'd', 'b', 'c', 'd'}));
}

TEST(DatasetText, SequentialChunksPredictEveryByteOnce) {
  std::string text = "0123456789abcdefghijk";  // 21 bytes: 20 predictions
  std::vector<Batch> chunks = sequential_chunks(text, 2, 6);
  // Chunks of 6: [0,6) [6,12) [12,18), then 2 left: batches {2 chunks}, {1 chunk}, {the rest}.
  ASSERT_EQ(chunks.size(), 3u);
  EXPECT_EQ(chunks[0].ids.shape(), (Shape{2, 6}));
  EXPECT_EQ(chunks[1].ids.shape(), (Shape{1, 6}));
  EXPECT_EQ(chunks[2].ids.shape(), (Shape{1, 2}));
  std::string predicted;
  for (const Batch& b : chunks)
    for (int64_t t : b.targets.to_vector<int64_t>()) predicted += char(t);
  EXPECT_EQ(predicted, text.substr(1));
  EXPECT_EQ(chunks[2].ids.to_vector<int64_t>(), (std::vector<int64_t>{'i', 'j'}));
  EXPECT_TRUE(sequential_chunks("a", 2, 6).empty());
}

}  // namespace
}  // namespace ssm::data
