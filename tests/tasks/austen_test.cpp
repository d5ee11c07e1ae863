// The Austen loader on hand-made objects, the LM text layout, and, when `ssm data fetch` has
// put the package under data/raw (CI has no network: skipped there), the real novels and the
// word sets rebuilt from them, which must equal the committed TSVs.
#include "tasks/byte_lm/austen.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "core/error.h"
#include "data/fetch.h"
#include "core/file.h"
#include "tasks/piglatin/dataset.h"
#include "tasks/piglatin/words.h"
#include "support/errors.h"
#include "support/paths.h"

using ssm::testing::error_of;

namespace ssm::tasks {
namespace {

using namespace ssm::data;  // tokenizers, readers, the fetcher

const std::string kRepoData = ssm::testing::source_dir() + "/data";
const char* kKeys[] = {"sensesensibility", "prideprejudice", "mansfieldpark",
                       "emma",             "northangerabbey", "persuasion"};

rdata::Value lines(std::vector<std::optional<std::string>> v) {
  rdata::Value x;
  x.type = rdata::Value::Type::string;
  x.strings = std::move(v);
  return x;
}

std::map<std::string, rdata::Value> six_novels() {
  std::map<std::string, rdata::Value> m;
  for (const char* k : kKeys) m[k] = lines({std::string(k), "", "text"});
  return m;
}

TEST(Austen, NovelsInPublicationOrder) {
  std::vector<Novel> n = austen_from_objects(six_novels(), "db");
  ASSERT_EQ(n.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(n[i].key, kKeys[i]);
    EXPECT_EQ(n[i].lines[0], kKeys[i]);
  }
  EXPECT_EQ(n[0].title, "Sense and Sensibility");
  EXPECT_EQ(n[5].title, "Persuasion");
}

TEST(Austen, MalformedObjectsAreErrors) {
  auto m = six_novels();
  m.erase("emma");
  EXPECT_NE(error_of([&] { austen_from_objects(m, "db"); }).find("db: no object 'emma' (Emma)"),
            std::string::npos);
  m = six_novels();
  m["persuasion"].type = rdata::Value::Type::integer;
  EXPECT_NE(error_of([&] { austen_from_objects(m, "db"); })
                .find("'persuasion' (Persuasion) is a integer vector, expected a character vector"),
            std::string::npos);
  m = six_novels();
  m["mansfieldpark"] = lines({"MANSFIELD PARK", std::nullopt});
  EXPECT_NE(error_of([&] { austen_from_objects(m, "db"); }).find("line 2 is NA"), std::string::npos);
  m = six_novels();
  m["emma"] = lines({});
  EXPECT_NE(error_of([&] { austen_from_objects(m, "db"); }).find("(Emma) has no lines"),
            std::string::npos);
  std::string e = error_of([] { load_austen("/nonexistent/Rdata.rdb", "/nonexistent/Rdata.rdx"); });
  EXPECT_NE(e.find("/nonexistent/Rdata.rdb"), std::string::npos) << e;
}

TEST(Austen, TextLayout) {
  std::vector<Novel> n = {{"a", "A", {"A", "", "x"}}, {"b", "B", {"B"}}};
  EXPECT_EQ(austen_text(n), "A\n\nx\n\nB\n");
}

// The fetched package, when present.
class AustenRaw : public ::testing::Test {
 protected:
  void SetUp() override {
    raw_ = raw_files(kRepoData + "/raw");
    if (!std::filesystem::exists(raw_.austen_rdb) || !std::filesystem::exists(raw_.austen_rdx))
      GTEST_SKIP() << "no fetched janeaustenr under data/raw (run `ssm data fetch`)";
  }
  RawFiles raw_;
};

TEST_F(AustenRaw, SixNovelsWithTheirFirstLines) {
  std::vector<Novel> n = load_austen(raw_.austen_rdb, raw_.austen_rdx);
  ASSERT_EQ(n.size(), 6u);
  const char* first[] = {"SENSE AND SENSIBILITY", "PRIDE AND PREJUDICE", "MANSFIELD PARK",
                         "EMMA", "NORTHANGER ABBEY", "Persuasion"};
  const size_t count[] = {12624, 13030, 15349, 16235, 7856, 8328};
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(n[i].lines.at(0), first[i]);
    EXPECT_EQ(n[i].lines.size(), count[i]) << n[i].title;
  }
  EXPECT_EQ(n[1].lines.at(9),
            "It is a truth universally acknowledged, that a single man in possession");
  EXPECT_EQ(n[0].lines.at(12), "The family of Dashwood had long been settled in Sussex.  Their estate");
  EXPECT_EQ(n[3].lines.back(), "FINIS");
}

TEST_F(AustenRaw, WordSetsRebuildToTheCommittedFiles) {
  std::vector<Novel> n = load_austen(raw_.austen_rdb, raw_.austen_rdx);
  std::vector<std::string> small = small_word_set(n[0].lines);
  EXPECT_EQ(pairs_tsv(small), read_file(kRepoData + "/piglatin_small.tsv"));
  if (!std::filesystem::exists(raw_.popular_words)) GTEST_SKIP() << "no popular-english-words";
  size_t used = 0;
  std::vector<std::string> large = large_word_set(
      small, parse_popular_words(read_file(raw_.popular_words), raw_.popular_words), &used);
  EXPECT_EQ(used, kPopularWordsUsed);
  EXPECT_EQ(pairs_tsv(large), read_file(kRepoData + "/piglatin_large.tsv"));
}

}  // namespace
}  // namespace ssm::tasks
