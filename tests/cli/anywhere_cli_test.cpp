// ssm run from any folder, as a user who is not in the source tree runs it: the shipped configs
// and data sets are found from the binary (built or installed), SSM_DATA and --data-dir name
// another data folder, a config's relative paths are from its own folder, a model dir evaluates
// from anywhere, and a failed start leaves nothing behind. Also: one spelling of data set names,
// token-id files for eval only, and --threads on every command.
#include <gtest/gtest.h>
#include <sched.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support/cli.h"
#include "support/paths.h"

namespace ssm::testing {
namespace {

namespace fs = std::filesystem;

const std::string kSource = source_dir();
const std::string kTsv = kSource + "/data/piglatin_small.tsv";

// A few steps of a tiny model: enough to write a model dir.
const std::string kTiny =
    " --set model.n_layer=1 --set model.d_model=16 --set training.max_steps=2"
    " --set training.eval_batches=1";

// `ssm ARGS` run in `cwd` without SSM_DATA unless `env` sets it, stderr folded into the output.
Cmd ssm_in(const std::string& cwd, const std::string& args, const std::string& env = "") {
  return run("cd " + quote(cwd) + " && env -u SSM_DATA " + env + " " + quote(SSM_CLI_PATH) + " " + args +
             " 2>&1");
}

std::string read(const fs::path& p) {
  std::ifstream in(p);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

fs::path make_dir(const fs::path& p) {
  fs::create_directories(p);
  return p;
}

#define EXPECT_HAS(text, part) \
  EXPECT_NE((text).find(part), std::string::npos) << "expected '" << (part) << "' in:\n" << (text)

TEST(AnywhereCli, TrainsWithAnAbsoluteConfigAndEvaluatesFromAnotherFolder) {
  TempDir tmp("ssm_cli");
  fs::path work = make_dir(fs::path(tmp.path()) / "work"), other = make_dir(fs::path(tmp.path()) / "other");
  Cmd t = ssm_in(work, "train -c " + quote(kSource + "/configs/piglatin_small_mamba.yaml") + kTiny);
  ASSERT_EQ(t.status, 0) << t.out;
  // output_dir is from the working folder; the data set from the binary's source tree.
  fs::path run_dir = work / "runs" / "piglatin_small_mamba";
  ASSERT_TRUE(fs::exists(run_dir / "model.safetensors")) << t.out;
  EXPECT_HAS(t.out, "Pig Latin from " + kTsv);
  EXPECT_HAS(read(run_dir / "train_config.yaml"), "  name: piglatin_small\n  path: \"\"\n");
  Cmd e = ssm_in(other, "eval -m " + quote(run_dir.string()) + " --max-batches 1 --json");
  ASSERT_EQ(e.status, 0) << e.out;
  EXPECT_HAS(e.out, "\"val_accuracy\":");
}

TEST(AnywhereCli, DemoFindsItsConfigAndDataFromTheBinary) {
  TempDir tmp("ssm_cli");
  Cmd d = ssm_in(tmp.path(), "demo" + kTiny + " -- team");
  ASSERT_EQ(d.status, 0) << d.out;
  EXPECT_HAS(d.out, "trains on piglatin_small");
  EXPECT_HAS(d.out, "sample words right.");
  EXPECT_TRUE(fs::exists(fs::path(tmp.path()) / "runs/demo/model.safetensors"));
}

TEST(AnywhereCli, AConfigNotFoundNamesEveryPlaceLookedAt) {
  TempDir tmp("ssm_cli");
  Cmd r = ssm_in(tmp.path(), "train -c configs/piglatn_small_mamba.yaml");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_HAS(r.out, "ssm: error: config file 'configs/piglatn_small_mamba.yaml' does not exist; did you "
                    "mean 'piglatin_small_mamba'?; looked for it at:");
  EXPECT_HAS(r.out, "\n  " + tmp.path() + "/configs/piglatn_small_mamba.yaml\n");
  EXPECT_HAS(r.out, "\n  " + kSource + "/configs/piglatn_small_mamba.yaml\n");
  EXPECT_HAS(r.out, "shipped configs (in " + kSource + "/configs): austen_char_mamba, ");
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "runs"));
}

TEST(AnywhereCli, MissingDataNamesWhereItLookedAndLeavesNoFolder) {
  TempDir tmp("ssm_cli");
  fs::path data = make_dir(fs::path(tmp.path()) / "data");
  std::string env = "SSM_DATA=" + quote(data.string());
  Cmd t = ssm_in(tmp.path(), "train -c piglatin_small_mamba" + kTiny, env);
  EXPECT_EQ(t.status, 1) << t.out;
  EXPECT_HAS(t.out, "ssm: error: dataset piglatin_small: '" + (data / "piglatin_small.tsv").string() +
                        "' does not exist (the data folder, set by SSM_DATA); `ssm data build` writes it");
  Cmd d = ssm_in(tmp.path(), "demo" + kTiny, env);
  EXPECT_EQ(d.status, 1) << d.out;
  EXPECT_HAS(d.out, "does not exist (the data folder, set by SSM_DATA)");
  Cmd n = ssm_in(tmp.path(), "train -c piglatin_small_mamba --data-dir nowhere");
  EXPECT_EQ(n.status, 1) << n.out;
  EXPECT_HAS(n.out, "ssm: error: --data-dir 'nowhere' is not a folder");
  EXPECT_FALSE(fs::exists(fs::path(tmp.path()) / "runs")) << "a failed start leaves no run folder";

  // With the file there, the run records the folder, so eval needs no SSM_DATA.
  fs::copy_file(kTsv, data / "piglatin_small.tsv");
  Cmd ok = ssm_in(tmp.path(), "train -c piglatin_small_mamba -o run" + kTiny, env);
  ASSERT_EQ(ok.status, 0) << ok.out;
  EXPECT_HAS(ok.out, "Pig Latin from " + (data / "piglatin_small.tsv").string());
  EXPECT_HAS(read(fs::path(tmp.path()) / "run/train_config.yaml"), "  path: \"" + data.string() + "\"\n");
}

TEST(AnywhereCli, DataDirAndConfigRelativePaths) {
  TempDir tmp("ssm_cli");
  fs::path root(tmp.path());
  fs::copy_file(kTsv, make_dir(root / "words") / "piglatin_small.tsv");
  // A relative dataset.path is from the config file's folder; output_dir from the working folder.
  make_dir(root / "cfg");
  std::ofstream(root / "cfg/my.yaml") << "dataset:\n  name: piglatin_small\n  path: ../words\n"
                                      << "training:\n  batch_size: 8\n";
  fs::path elsewhere = make_dir(root / "elsewhere");
  Cmd t = ssm_in(elsewhere, "train -c ../cfg/my.yaml" + kTiny);
  ASSERT_EQ(t.status, 0) << t.out;
  EXPECT_HAS(t.out, "Pig Latin from " + (root / "words/piglatin_small.tsv").string());
  EXPECT_TRUE(fs::exists(elsewhere / "runs/my/model.safetensors"));
  // The model dir records the data folder; when it has moved, --data-dir names the new one.
  fs::rename(root / "words", root / "moved");
  Cmd gone = ssm_in(root, "eval -m elsewhere/runs/my --max-batches 1");
  EXPECT_EQ(gone.status, 1) << gone.out;
  EXPECT_HAS(gone.out, "(dataset.path is '" + (root / "words").string() + "')");
  Cmd e = ssm_in(root, "eval -m elsewhere/runs/my --data-dir moved --max-batches 1 --json");
  EXPECT_EQ(e.status, 0) << e.out;
  Cmd s = ssm_in(root, "data show piglatin_small --data-dir moved");
  EXPECT_EQ(s.status, 0) << s.out;
  EXPECT_HAS(s.out, "moved/piglatin_small.tsv: 3198 word pairs");
}

// `cmake --install` gives a working tool: PREFIX/bin/ssm finds PREFIX/share/ssm/{data,configs}.
TEST(AnywhereCli, InstalledLayout) {
  TempDir tmp("ssm_cli");
  fs::path prefix = fs::path(tmp.path()) / "prefix";
  std::string build_dir = fs::path(SSM_CLI_PATH).parent_path().string();
  Cmd i = run("cmake --install " + quote(build_dir) + " --prefix " + quote(prefix.string()) + " 2>&1");
  ASSERT_EQ(i.status, 0) << i.out;
  ASSERT_TRUE(fs::exists(prefix / "bin/ssm")) << i.out;
  EXPECT_TRUE(fs::exists(prefix / "share/ssm/configs/piglatin_small_mamba.yaml"));
  std::string ssm = quote((prefix / "bin/ssm").string());
  Cmd s = run("cd " + quote(tmp.path()) + " && env -u SSM_DATA " + ssm + " data show piglatin_large 2>&1");
  EXPECT_EQ(s.status, 0) << s.out;
  EXPECT_HAS(s.out, (prefix / "share/ssm/data/piglatin_large.tsv").string() + ": 22402 word pairs");
  Cmd t = run("cd " + quote(tmp.path()) + " && env -u SSM_DATA " + ssm + " train -c piglatin_small_mamba" +
              kTiny + " 2>&1");
  EXPECT_EQ(t.status, 0) << t.out;
  EXPECT_HAS(t.out, "Pig Latin from " + (prefix / "share/ssm/data/piglatin_small.tsv").string());
}

TEST(AnywhereCli, DataSetNamesHaveTheConfigSpelling) {
  TempDir tmp("ssm_cli");
  Cmd bad = ssm_in(tmp.path(), "data show piglatin-small");
  EXPECT_EQ(bad.status, 1) << bad.out;
  EXPECT_HAS(bad.out, "ssm: error: 'piglatin-small' is not a data set of this build; did you mean "
                      "'piglatin_small'? (data sets: piglatin_small, piglatin_large, austen_char, smnist, "
                      "psmnist, sfmnist)");
  Cmd help = ssm_in(tmp.path(), "data show --help");
  EXPECT_HAS(help.out, "the data set: piglatin_small, piglatin_large, austen_char, smnist, psmnist, sfmnist");
  Cmd ok = ssm_in(tmp.path(), "data show piglatin_small");
  EXPECT_EQ(ok.status, 0) << ok.out;
  EXPECT_HAS(ok.out, kTsv + ": 3198 word pairs");
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
                    "austen_char, smnist, psmnist, sfmnist, got 'tokens_file'");
  const std::string fixtures = kSource + "/tests/fixtures/models/interop";
  Cmd e = ssm_in(tmp.path(), "eval -m " + quote(fixtures + "/ssm") + " --tokens " + quote(fixtures + "/tokens.txt") +
                                 " --json");
  EXPECT_EQ(e.status, 0) << e.out;
  EXPECT_HAS(e.out, "\"perplexity\":");
}

TEST(AnywhereCli, ThreadsOnEveryCommand) {
  TempDir tmp("ssm_cli");
  const std::string model = quote(kSource + "/tests/fixtures/models/interop/ssm");
  // Checked before the command runs, in words.
  for (const char* cmd : {"inspect x.safetensors", "data show piglatin_small"}) {
    Cmd r = ssm_in(tmp.path(), std::string(cmd) + " --threads 0");
    EXPECT_EQ(r.status, 1) << cmd << ": " << r.out;
    EXPECT_HAS(r.out, "ssm: error: --threads must be a whole number from 1 to 1024, got '0'");
  }
  Cmd info = ssm_in(tmp.path(), "info -m " + model + " --threads 1");
  EXPECT_EQ(info.status, 0) << info.out;
  EXPECT_HAS(info.out, "CPU threads: 1 (--threads N); BLAS: ");
  // The default: every core this process may run on (OMP_NUM_THREADS unset).
  cpu_set_t cpus;
  ASSERT_EQ(sched_getaffinity(0, sizeof cpus, &cpus), 0);
  Cmd dflt = run("env -u OMP_NUM_THREADS " + quote(SSM_CLI_PATH) + " info -m " + model + " --json");
  EXPECT_HAS(dflt.out, "\"cpu_threads\": " + std::to_string(CPU_COUNT(&cpus)) + ",");
  // The training header shows it, and the run's config records it.
  Cmd t = ssm_in(tmp.path(), "train -c piglatin_small_mamba -o run --threads 1" + kTiny);
  ASSERT_EQ(t.status, 0) << t.out;
  EXPECT_HAS(t.out, " parameters; 1 CPU thread");
  EXPECT_HAS(read(fs::path(tmp.path()) / "run/train_config.yaml"), "  threads: 1\n");
}

}  // namespace
}  // namespace ssm::testing
