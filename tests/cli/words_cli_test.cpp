// What ssm says when the input is wrong: the option or the tensor by name, the allowed range in
// plain numbers, and exit codes a script can test.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "core/file.h"
#include "support/cli.h"
#include "support/paths.h"
#include "support/tiny_model.h"

namespace ssm::testing {
namespace {

const std::string kSource = source_dir();

Cmd ssm(const std::string& args) { return run(quote(SSM_CLI_PATH) + " " + args + " 2>&1"); }

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(WordsCli, RangeErrorsNameTheOptionAndTheRangeInPlainNumbers) {
  // Checked while the command line is read: no model dir or config is needed to see them.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"generate -m none -p x --max-new-tokens 100000000",
       "--max-new-tokens: must be between 1 and 100000, got 100000000"},
      {"generate -m none -p x --top-p 0", "--top-p: must be more than 0 and at most 1, got 0"},
      {"generate -m none -p x -t abc", "--temperature: must be a number at least 0, got 'abc'"},
      {"translate -m none --beam 0", "--beam: must be between 1 and 64, got 0"},
      {"eval -m none --max-batches -1", "--max-batches: must be at least 0, got -1"},
      {"train -c x.yaml --halt-after 1.5",
       "--halt-after: must be a whole number at least 0, got '1.5'"},
  };
  for (const auto& [args, message] : cases) {
    Cmd r = ssm(args);
    EXPECT_NE(r.status, 0) << args << ": " << r.out;
    EXPECT_TRUE(has(r.out, message)) << args << ": " << r.out;
    EXPECT_FALSE(has(r.out, "179769")) << args << ": no 300-digit bounds: " << r.out;
    EXPECT_FALSE(has(r.out, ".000000")) << args << ": " << r.out;
  }
}

TEST(WordsCli, HelpShowsTheRanges) {
  Cmd r = ssm("generate --help");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r.out, "--max-new-tokens INT:(between 1 and 100000)=200")) << r.out;
  EXPECT_TRUE(has(r.out, "--top-p FLOAT:(more than 0 and at most 1)=1")) << r.out;
}

TEST(WordsCli, NoCommandTakesANegativeSeed) {
  for (const std::string& args :
       {std::string("generate -m none -p x --seed -3"), std::string("train -c x.yaml --seed -3"),
        std::string("data show austen_char --seed -3")}) {
    Cmd r = ssm(args);
    EXPECT_NE(r.status, 0) << args << ": " << r.out;
    EXPECT_TRUE(has(r.out, "--seed: must be at least 0, got -3")) << args << ": " << r.out;
  }
}

// A tiny byte-level model dir whose parameter `name` holds `bad` at element 5.
std::string damaged_model(const TempDir& tmp, const std::string& name, float bad) {
  std::string dir = tmp.path() + "/model";
  save_tiny_model(dir, data::ByteTokenizer(), 256, [&](std::map<std::string, Tensor>& state) {
    Tensor& t = state.at(name);
    std::vector<float> v = t.to_vector<float>();
    v[5] = bad;
    t = Tensor::from_vector(v, t.shape());
  });
  return dir;
}

TEST(WordsCli, EvalOfNaNWeightsIsAnErrorNamingTheTensor) {
  TempDir tmp("ssm_cli");
  std::string dir = damaged_model(tmp, "backbone.layers.0.mixer.A_log", NAN);
  write_file_atomic(tmp.path() + "/tokens.txt", "1 2 3 4 5 6\n");
  Cmd r = ssm("eval --json -m " + quote(dir) + " --tokens " + quote(tmp.path() + "/tokens.txt"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "ssm: error: eval: the weights in '" + dir +
                             "': backbone.layers.0.mixer.A_log holds nan at element 5 of 128"))
      << r.out;
  EXPECT_FALSE(has(r.out, "loss")) << "no loss of null: " << r.out;
}

TEST(WordsCli, GenerateWithInfiniteWeightsIsAnErrorNamingTheTensor) {
  TempDir tmp("ssm_cli");
  std::string dir = damaged_model(tmp, "backbone.embeddings.weight", -INFINITY);
  Cmd r = ssm("generate -m " + quote(dir) + " -p abc");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out, "generate: the weights in '" + dir +
                             "': backbone.embeddings.weight holds -inf at element 5 of 4096"))
      << r.out;
  EXPECT_FALSE(has(r.out, "abc")) << r.out;
}

TEST(WordsCli, AVocabularyTooLargeToAllocateIsRefusedInWords) {
  TempDir tmp("ssm_cli");
  std::string out = tmp.path() + "/run";
  Cmd r = run("cd " + quote(kSource) + " && " + quote(SSM_CLI_PATH) +
              " train -q -c configs/piglatin_small_mamba.yaml --set model.vocab_size=10000000000000"
              " -o " +
              quote(out) + " 2>&1");
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(has(r.out,
                  "ssm: error: model.vocab_size in --set model.vocab_size=10000000000000: "
                  "10000000000000 tokens x d_model 64 makes a model of 640 trillion "
                  "parameters, whose float32 weights alone need 2.56 PB, more than this "
                  "machine's "))
      << r.out;
  EXPECT_FALSE(has(r.out, "bad_alloc")) << r.out;
  EXPECT_FALSE(std::filesystem::exists(out)) << "refused before anything is written";

  // The same size in a model dir's config.json.
  std::string dir = tmp.path() + "/model";
  save_tiny_model(dir, data::ByteTokenizer(), 256);
  std::string config = read_file(dir + "/config.json");
  size_t at = config.find("\"vocab_size\": 256");
  ASSERT_NE(at, std::string::npos) << config;
  write_file_atomic(dir + "/config.json", config.replace(at, 18, "\"vocab_size\": 10000000000000"));
  Cmd info = ssm("info -m " + quote(dir));
  EXPECT_EQ(info.status, 1) << info.out;
  EXPECT_TRUE(has(info.out, "ssm: error: " + dir +
                                "/config.json: model.vocab_size: 10000000000000 "
                                "tokens x d_model 16 makes a model of 160 trillion parameters"))
      << info.out;
}

}  // namespace
}  // namespace ssm::testing
