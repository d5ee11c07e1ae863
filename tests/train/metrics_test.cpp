// metrics.jsonl: lines reach the file as they are logged, reopening appends, a torn last line is
// cut, and truncate_after drops the steps a resumed run will log again.
#include "train/metrics.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/error.h"

namespace ssm::train {
namespace {

namespace fs = std::filesystem;

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ssm_metrics_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr) << std::strerror(errno);
    dir_ = pattern;
    path_ = (dir_ / "run" / "metrics.jsonl").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::vector<int64_t> steps() const {
    std::vector<int64_t> s;
    for (const auto& j : read_metrics(path_)) s.push_back(j.at("step").get<int64_t>());
    return s;
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(MetricsTest, LinesAreInTheFileAsSoonAsLogged) {
  MetricsLog log(path_);
  log.log(10, 0, "train", {{"loss", 0.5}, {"lr", 3e-4}, {"tok_per_s", 12300}});
  // Read while the log is still open: nothing waits in a buffer.
  std::vector<nlohmann::json> lines = read_metrics(path_);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["step"], 10);
  EXPECT_EQ(lines[0]["epoch"], 0);
  EXPECT_EQ(lines[0]["split"], "train");
  EXPECT_EQ(lines[0]["loss"], 0.5);
  EXPECT_EQ(lines[0]["lr"], 3e-4);
  EXPECT_EQ(lines[0]["tok_per_s"], 12300);
  EXPECT_GE(lines[0]["time"].get<double>(), 0);

  // Keys keep their order: step, epoch, split, the fields, time.
  std::string text = read_file(path_);
  EXPECT_EQ(text.rfind(R"({"step":10,"epoch":0,"split":"train","loss":0.5,"lr":0.0003,)", 0), 0u)
      << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST_F(MetricsTest, ReopeningAppends) {
  {
    MetricsLog log(path_);
    log.log(1, 0, "train", {{"loss", 3.0}});
    log.log(2, 0, "train", {{"loss", 2.0}});
  }
  {
    MetricsLog log(path_, /*elapsed_offset=*/100.0);
    log.log(3, 0, "val", {{"loss", 1.5}, {"accuracy", 0.25}});
  }
  std::vector<nlohmann::json> lines = read_metrics(path_);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(steps(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(lines[2]["split"], "val");
  EXPECT_GE(lines[2]["time"].get<double>(), 100.0);  // continues the resumed run's clock
}

TEST_F(MetricsTest, TornLastLineIsCutOnReopen) {
  {
    MetricsLog log(path_);
    log.log(1, 0, "train", {{"loss", 3.0}});
  }
  {
    std::ofstream out(path_, std::ios::app);
    out << R"({"step":2,"epoch":0,"spl)";  // a run killed mid-write
  }
  MetricsLog log(path_);
  log.log(2, 0, "train", {{"loss", 2.0}});
  EXPECT_EQ(steps(), (std::vector<int64_t>{1, 2}));
}

TEST_F(MetricsTest, TruncateAfterDropsLaterSteps) {
  MetricsLog log(path_);
  for (int64_t s = 100; s <= 500; s += 100) {
    log.log(s, s / 300, "train", {{"loss", 1.0 / double(s)}});
    if (s % 200 == 0) log.log(s, s / 300, "val", {{"loss", 2.0 / double(s)}});
  }
  // Resume from the checkpoint at step 300: lines after it go, step 300 itself stays.
  EXPECT_EQ(log.truncate_after(300), 3u);  // train 400, val 400, train 500
  EXPECT_EQ(steps(), (std::vector<int64_t>{100, 200, 200, 300}));
  EXPECT_EQ(log.truncate_after(300), 0u);  // nothing more to drop
  // The log writes to the rewritten file, not the one the rename replaced.
  log.log(400, 1, "train", {{"loss", 0.1}});
  EXPECT_EQ(steps(), (std::vector<int64_t>{100, 200, 200, 300, 400}));
  // No temp file is left behind.
  size_t files = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(fs::path(path_).parent_path())) ++files;
  EXPECT_EQ(files, 1u);
}

TEST_F(MetricsTest, TruncateAfterFromANewLog) {
  {
    MetricsLog log(path_);
    for (int64_t s = 1; s <= 5; ++s) log.log(s, 0, "train", {{"loss", 1.0}});
  }
  MetricsLog resumed(path_);
  EXPECT_EQ(resumed.truncate_after(2), 3u);
  resumed.log(3, 0, "train", {{"loss", 1.0}});
  EXPECT_EQ(steps(), (std::vector<int64_t>{1, 2, 3}));
}

TEST_F(MetricsTest, NonFiniteValuesAreNull) {
  MetricsLog log(path_);
  log.log(1, 0, "train", {{"loss", std::nan("")}, {"grad_norm", INFINITY}});
  nlohmann::json j = read_metrics(path_).at(0);
  EXPECT_TRUE(j["loss"].is_null());
  EXPECT_TRUE(j["grad_norm"].is_null());
}

TEST_F(MetricsTest, ReservedAndRepeatedFieldsAreErrors) {
  MetricsLog log(path_);
  EXPECT_THROW(log.log(1, 0, "train", {{"step", 1.0}}), Error);
  EXPECT_THROW(log.log(1, 0, "train", {{"time", 1.0}}), Error);
  EXPECT_THROW(log.log(1, 0, "train", {{"loss", 1.0}, {"loss", 2.0}}), Error);
  EXPECT_TRUE(read_metrics(path_).empty());  // nothing half-written
}

TEST_F(MetricsTest, BadLineNamesPathAndLine) {
  {
    MetricsLog log(path_);
    log.log(1, 0, "train", {{"loss", 1.0}});
  }
  {
    std::ofstream out(path_, std::ios::app);
    out << "not json\n";
  }
  try {
    read_metrics(path_);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(path_ + ":2"), std::string::npos) << e.what();
  }
  MetricsLog log(path_);
  EXPECT_THROW(log.truncate_after(0), Error);  // never rewrites a file it cannot read
  EXPECT_EQ(read_file(path_).substr(read_file(path_).size() - 9), "not json\n");
}

TEST_F(MetricsTest, UnwritablePathNamesIt) {
  fs::path blocker = dir_ / "file";
  std::ofstream(blocker) << "x";
  std::string bad = (blocker / "metrics.jsonl").string();
  try {
    MetricsLog log(bad);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(blocker.string()), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ssm::train
