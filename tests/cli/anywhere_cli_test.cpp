// Data sets as users name them: one spelling of data set names, and token-id files for eval only.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/cli.h"

namespace ssm::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSource = SSM_SOURCE_DIR;

// `ssm ARGS` run in `cwd` without SSM_DATA unless `env` sets it, stderr folded into the output.
Cmd ssm_in(const std::string& cwd, const std::string& args, const std::string& env = "") {
  return run("cd " + quote(cwd) + " && env -u SSM_DATA " + env + " " + quote(SSM_CLI_PATH) + " " + args +
             " 2>&1");
}

#define EXPECT_HAS(text, part) \
  EXPECT_NE((text).find(part), std::string::npos) << "expected '" << (part) << "' in:\n" << (text)

TEST(AnywhereCli, DataSetNamesHaveTheConfigSpelling) {
  TempDir tmp("ssm_cli");
  Cmd bad = ssm_in(tmp.path(), "data show piglatin-small");
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_HAS(bad.out, "ssm: error: 'piglatin-small' is not a data set of this build; did you mean "
                      "'piglatin_small'? (data sets: piglatin_small, piglatin_large, austen_char)");
  Cmd help = ssm_in(tmp.path(), "data show --help");
  EXPECT_HAS(help.out, "the data set: piglatin_small, piglatin_large, austen_char");
  Cmd ok = ssm_in(kSource, "data show piglatin_small");
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_HAS(ok.out, "data/piglatin_small.tsv: 3198 word pairs");
}

// A token-id file has no tokenizer to train with: ssm eval --tokens reads it, training does not.
TEST(AnywhereCli, TokenFilesAreEvaluatedNotTrained) {
  TempDir tmp("ssm_cli");
  Cmd help = ssm_in(tmp.path(), "train --help-config");
  EXPECT_EQ(help.status, 0) << help.out;
  EXPECT_EQ(help.out.find("tokens_file"), std::string::npos) << "offered for training:\n" << help.out;
  std::ofstream(fs::path(tmp.path()) / "t.yaml") << "dataset:\n  name: tokens_file\n";
  Cmd t = ssm_in(tmp.path(), "train -c t.yaml");
  EXPECT_EQ(t.status, 1) << t.out;
  EXPECT_HAS(t.out, "dataset.name at t.yaml:2:9: expected one of piglatin_small, piglatin_large, "
                    "austen_char, got 'tokens_file'");
  const std::string fixtures = kSource + "/tests/fixtures/models/interop";
  Cmd e = ssm_in(tmp.path(), "eval -m " + quote(fixtures + "/ssm") + " --tokens " + quote(fixtures + "/tokens.txt") +
                                 " --json");
  EXPECT_EQ(e.status, 0) << e.out;
  EXPECT_HAS(e.out, "\"perplexity\":");
}

}  // namespace
}  // namespace ssm::testing
