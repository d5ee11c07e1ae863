// Hugging Face interop of model dirs, through the real `ssm` binary: `ssm eval --tokens --json`
// on a dir written by plain PyTorch (tools/mamba_reference.py, MambaForCausalLM layout) and on one
// written by ssm gives the loss PyTorch computes, to a relative error of 1e-4 in float32.
// The committed fixtures (tests/fixtures/models/interop/, made by tools/make_interop_fixtures.sh)
// always run; the live tests make fresh dirs and run PyTorch, where a python with torch exists.
// MixerInterop does the same for every other mixer's LM (tools/ssm_lm_reference.py around
// tools/<mixer>_reference.py; fixtures in interop_<mixer>/, tools/make_mixer_interop_fixtures.sh).
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/cli.h"
#include "support/paths.h"

namespace ssm {
namespace {

#ifdef SSM_CLI_PATH
namespace fs = std::filesystem;
using nlohmann::json;
using testing::Cmd;
using testing::quote;
using testing::run;
using testing::TempDir;

constexpr double kRelTol = 1e-4;

const std::string kSource = testing::source_dir();
const std::string kFixtures = testing::tests_dir() + "/fixtures/models/interop";

// The python that runs tools/mamba_reference.py: $SSM_PYTHON, else /usr/bin/python3; empty when
// it cannot import torch.
std::string torch_python() {
  const char* env = std::getenv("SSM_PYTHON");
  std::string py = env && *env ? env : "/usr/bin/python3";
  return run(quote(py) + " -c 'import torch' >/dev/null 2>&1").status == 0 ? py : "";
}

struct Loss {
  double loss = 0;
  int64_t tokens = 0;
};

Loss parse_loss(const Cmd& r, const std::string& what) {
  EXPECT_EQ(r.status, 0) << what << " failed: " << r.out;
  json j = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  EXPECT_TRUE(j.is_object() && j.contains("loss") && j.contains("tokens")) << what << " printed: " << r.out;
  if (!j.is_object() || !j.contains("loss") || !j.contains("tokens")) return {NAN, -1};
  return {j["loss"].get<double>(), static_cast<int64_t>(j["tokens"].get<double>())};
}

Loss ssm_eval(const std::string& dir, const std::string& tokens) {
  return parse_loss(run(quote(SSM_CLI_PATH) + " eval --model-dir " + quote(dir) + " --tokens " + quote(tokens) +
                        " --json"),
                    "ssm eval on " + dir);
}

Loss torch_eval(const std::string& py, const std::string& dir, const std::string& tokens,
                const std::string& tool = "mamba_reference.py") {
  return parse_loss(run(quote(py) + " " + quote(kSource + "/tools/" + tool) + " eval " + quote(dir) + " " +
                        quote(tokens)),
                    tool + " eval on " + dir);
}

void expect_match(const Loss& got, const Loss& want, const std::string& what) {
  double rel = std::abs(got.loss - want.loss) / std::abs(want.loss);
  std::printf("[ interop  ] %s: ssm %.10f, PyTorch %.10f, relative error %.2e, %lld tokens\n", what.c_str(),
              got.loss, want.loss, rel, static_cast<long long>(got.tokens));
  EXPECT_LE(rel, kRelTol) << what << ": ssm loss " << got.loss << ", PyTorch " << want.loss;
  EXPECT_EQ(got.tokens, want.tokens) << what;
}

Loss expected(const std::string& name, const std::string& fixtures = kFixtures) {
  std::ifstream in(fixtures + "/expected.json");
  json j = json::parse(in);
  return {j.at(name).at("loss").get<double>(), j.at(name).at("tokens").get<int64_t>()};
}

TEST(Interop, ReferenceDirFixture) {
  expect_match(ssm_eval(kFixtures + "/ref", kFixtures + "/tokens.txt"), expected("ref"), "fixture ref/");
}

TEST(Interop, SsmDirFixture) {
  expect_match(ssm_eval(kFixtures + "/ssm", kFixtures + "/tokens.txt"), expected("ssm"), "fixture ssm/");
}

// A fresh PyTorch dir of other shapes than the fixture's (odd sizes, 3 layers, conv 3).
TEST(Interop, LiveReferenceDir) {
  std::string py = torch_python();
  if (py.empty()) GTEST_SKIP() << "no python with torch ($SSM_PYTHON or /usr/bin/python3): apt-get install python3-torch";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string dir = tmp.path() + "/ref";
  Cmd w = run(quote(py) + " " + quote(kSource + "/tools/mamba_reference.py") + " write-dir " + quote(dir) +
              " --seed 12345 --vocab 37 --hidden 24 --layers 3 --state 6 --expand 2 --conv 3 --dtype float32");
  ASSERT_EQ(w.status, 0) << "mamba_reference.py write-dir failed: " << w.out;
  std::string tokens = kFixtures + "/tokens.txt";
  expect_match(ssm_eval(dir, tokens), torch_eval(py, dir, tokens), "live PyTorch dir");
}

// A fresh dir from ssm's own writer: a few training steps of a tiny Pig-Latin Mamba.
TEST(Interop, LiveSsmDir) {
  std::string py = torch_python();
  if (py.empty()) GTEST_SKIP() << "no python with torch ($SSM_PYTHON or /usr/bin/python3): apt-get install python3-torch";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string dir = tmp.path() + "/run";
  Cmd t = run(quote(SSM_CLI_PATH) + " train --quiet --config " + quote(kSource + "/configs/piglatin_small_mamba.yaml") +
              " --output-dir " + quote(dir) + " --seed 3 --set dataset.path=" + quote(kSource + "/data") +
              " --set training.max_steps=20 --set training.threads=1 --set training.early_stopping_metric=val_loss"
              " --set model.d_model=16 --set model.d_state=8 --set model.n_layer=3");
  ASSERT_EQ(t.status, 0) << "ssm train failed: " << t.out;
  std::string tokens = kFixtures + "/tokens.txt";
  expect_match(ssm_eval(dir, tokens), torch_eval(py, dir, tokens), "live ssm dir");
}
// The LM over each non-Mamba mixer: model_type "ssm", the mixer named by ssm_mixer.
class MixerInterop : public ::testing::TestWithParam<std::string> {
 protected:
  std::string fixtures() const { return kFixtures + "_" + GetParam(); }
};

TEST_P(MixerInterop, ReferenceDirFixture) {
  expect_match(ssm_eval(fixtures() + "/ref", kFixtures + "/tokens.txt"), expected("ref", fixtures()),
               GetParam() + " fixture ref/");
}

TEST_P(MixerInterop, SsmDirFixture) {
  expect_match(ssm_eval(fixtures() + "/ssm", kFixtures + "/tokens.txt"), expected("ssm", fixtures()),
               GetParam() + " fixture ssm/");
}

// A fresh PyTorch dir of other sizes than the fixture's (odd width, 3 layers, float32).
TEST_P(MixerInterop, LiveReferenceDir) {
  std::string py = torch_python();
  if (py.empty()) GTEST_SKIP() << "no python with torch ($SSM_PYTHON or /usr/bin/python3): apt-get install python3-torch";
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string dir = tmp.path() + "/ref";
  Cmd w = run(quote(py) + " " + quote(kSource + "/tools/ssm_lm_reference.py") + " write-dir " + quote(dir) +
              " --mixer " + GetParam() + " --seed 4321 --vocab 37 --hidden 24 --layers 3 --state 12");
  ASSERT_EQ(w.status, 0) << "ssm_lm_reference.py write-dir failed: " << w.out;
  std::string tokens = kFixtures + "/tokens.txt";
  expect_match(ssm_eval(dir, tokens), torch_eval(py, dir, tokens, "ssm_lm_reference.py"),
               "live PyTorch " + GetParam() + " dir");
}

INSTANTIATE_TEST_SUITE_P(Mixers, MixerInterop, ::testing::Values(std::string("s4"), std::string("s4d"), std::string("s5")),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });
#else
TEST(Interop, NeedsTheCli) { GTEST_SKIP() << "built without the ssm executable (SSM_BUILD_CLI=OFF)"; }
#endif

}  // namespace
}  // namespace ssm
