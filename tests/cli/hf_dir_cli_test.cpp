// The Hugging Face dirs people have, through the real `ssm` binary: sharded and half-precision
// weights evaluate and generate; a tokenizer.json is named by the commands that need a tokenizer
// while the others work; PyTorch weights get a conversion command that works; trained dirs write
// the tokenizer's special token ids and a dir that contradicts them is refused.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "support/cli.h"
#include "support/paths.h"
#include "support/hf_dirs.h"

namespace ssm::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kSource = source_dir();

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

// `ssm ARGS`, stderr folded into the output.
Cmd ssm(const std::string& args) { return run(quote(SSM_CLI_PATH) + " " + args + " 2>&1"); }

// A tiny Pig-Latin model dir (ssm's tokenizer) and a file of token ids to evaluate it on.
struct Fixture {
  TempDir tmp{"ssm_hf_cli"};
  std::string tokens = tmp.path() + "/tokens.txt";

  Fixture() { write_file_atomic(tokens, "1 7 8 9 3 8 9 7 10 2\n1 20 5 4 3 5 4 20 10 2\n"); }
  std::string dir(const std::string& name, bool with_tokenizer = true) const {
    std::string d = tmp.path() + "/" + name;
    data::CharTokenizer chars;
    io::save_model_dir(d, *tiny_lm(), with_tokenizer ? &chars : nullptr);
    return d;
  }
  Cmd eval(const std::string& d) const {
    return ssm("eval -m " + quote(d) + " --tokens " + quote(tokens) + " --json");
  }
};

TEST(HfDirCli, ShardedBf16WeightsEvaluateAsTheirFloat32Values) {
  Fixture f;
  // bfloat16 in two shards here; tests/io/model_dir_test.cpp loads float16 and single files too.
  std::string half = f.dir("half"), wide = f.dir("wide");
  map_weights(half, [](const Tensor& t) { return t.to(DType::bf16); });
  reshard(half, 2);
  map_weights(wide, [](const Tensor& t) { return t.to(DType::bf16).to(DType::f32); });
  Cmd a = f.eval(half), b = f.eval(wide);
  ASSERT_EQ(a.status, 0) << a.out;
  EXPECT_TRUE(contains(a.out, "\"loss\":")) << a.out;
  EXPECT_EQ(a.out, b.out) << "the same float32 weights give the same loss";
  Cmd info = ssm("info -m " + quote(half));
  EXPECT_EQ(info.status, 0) << info.out;
  EXPECT_TRUE(contains(info.out, "parameters: ")) << info.out;
  Cmd gen = ssm("generate -m " + quote(half) + " -p abc -n 4 --seed 1");
  EXPECT_EQ(gen.status, 0) << gen.out;
}

TEST(HfDirCli, ATokenizerJsonIsNamedByTheCommandsThatNeedText) {
  Fixture f;
  std::string d = f.dir("hf", /*with_tokenizer=*/false);
  write_file_atomic(
      d + "/tokenizer.json",
      json{{"version", "1.0"}, {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}}}}
          .dump());
  std::string named = "' has a Hugging Face tokenizer, " + d +
                      "/tokenizer.json (a BPE model of 2 tokens), which this build does not read "
                      "yet: it reads ssm's own ssm_tokenizer.json (char and byte tokenizers)";
  Cmd gen = ssm("generate -m " + quote(d) + " -p hello");
  EXPECT_EQ(gen.status, 1) << gen.out;
  EXPECT_TRUE(contains(gen.out, "ssm: error: generate: '" + d + named)) << gen.out;
  Cmd tr = ssm("translate -m " + quote(d) + " hello");
  EXPECT_EQ(tr.status, 1) << tr.out;
  EXPECT_TRUE(contains(tr.out, "ssm: error: translate: '" + d + named)) << tr.out;
  Cmd ev = ssm("eval -m " + quote(d) + " --data piglatin_small --config " +
               quote(kSource + "/configs/piglatin_small_mamba.yaml"));
  EXPECT_EQ(ev.status, 1) << ev.out;
  EXPECT_TRUE(contains(ev.out, "ssm: error: eval: '" + d + named)) << ev.out;
  EXPECT_TRUE(contains(ev.out, "; evaluate token ids with --tokens FILE instead")) << ev.out;

  // What needs no tokenizer works.
  Cmd tokens = f.eval(d);
  EXPECT_EQ(tokens.status, 0) << tokens.out;
  EXPECT_EQ(ssm("info -m " + quote(d)).status, 0);
  Cmd inspect = ssm("inspect " + quote(d + "/model.safetensors"));
  EXPECT_EQ(inspect.status, 0) << inspect.out;
  EXPECT_TRUE(contains(inspect.out, "backbone.embeddings.weight")) << inspect.out;
}

// The python that can run the conversion: $SSM_PYTHON, else /usr/bin/python3; empty unless it
// imports torch and safetensors.
std::string torch_safetensors_python() {
  const char* env = std::getenv("SSM_PYTHON");
  std::string py = env && *env ? env : "/usr/bin/python3";
  // safetensors first: it is the one usually missing, and importing torch takes seconds.
  return run(quote(py) + " -c 'import safetensors, torch' >/dev/null 2>&1").status == 0 ? py : "";
}

TEST(HfDirCli, PyTorchWeightsGetACommandThatConvertsThem) {
  Fixture f;
  std::string d = f.dir("pt");
  std::string py = torch_safetensors_python();
  if (py.empty()) {
    // Without torch the message is all there is to check.
    fs::remove(d + "/model.safetensors");
    write_file_atomic(d + "/pytorch_model.bin", "a pickle");
    Cmd r = f.eval(d);
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_TRUE(contains(r.out, "has PyTorch weights, pytorch_model.bin, but no model.safetensors"))
        << r.out;
    EXPECT_TRUE(contains(r.out, "\n  python3 -c 'import torch;")) << r.out;
    GTEST_SKIP() << "no python with torch and safetensors ($SSM_PYTHON or /usr/bin/python3) to run "
                    "the conversion";
  }
  Cmd want = f.eval(d);
  ASSERT_EQ(want.status, 0) << want.out;
  // pytorch_model.bin as transformers' save_pretrained(safe_serialization=False) writes it: the
  // tied LM head stored too, sharing the embeddings' memory.
  Cmd w = run(quote(py) + " -c " +
              quote("import sys, torch; from safetensors.torch import load_file; d = sys.argv[1]; "
                    "sd = load_file(d + '/model.safetensors'); "
                    "sd['lm_head.weight'] = sd['backbone.embeddings.weight']; "
                    "torch.save(sd, d + '/pytorch_model.bin')") +
              " " + quote(d) + " 2>&1");
  ASSERT_EQ(w.status, 0) << w.out;
  fs::remove(d + "/model.safetensors");
  Cmd r = f.eval(d);
  ASSERT_EQ(r.status, 1) << r.out;
  size_t at = r.out.find("\n  python3 -c ");
  ASSERT_NE(at, std::string::npos) << r.out;
  std::string line = r.out.substr(at + 3);
  line = line.substr(0, line.find('\n'));
  Cmd conv = run(quote(py) + line.substr(std::string("python3").size()) + " 2>&1");
  ASSERT_EQ(conv.status, 0) << line << "\n" << conv.out;
  Cmd got = f.eval(d);
  EXPECT_EQ(got.status, 0) << got.out;
  EXPECT_EQ(got.out, want.out) << "the converted dir evaluates as the original";
}

TEST(HfDirCli, TrainedDirsWriteTheTokenizersIdsAndAContradictionIsRefused) {
  TempDir tmp("ssm_hf_cli");
  std::string out = tmp.path() + "/run";
  Cmd t = run("cd " + quote(kSource) + " && " + quote(SSM_CLI_PATH) +
              " train -q -c configs/piglatin_small_mamba.yaml --set training.max_steps=2"
              " --set training.eval_batches=1 --set model.n_layer=1 --set model.d_model=16 -o " +
              quote(out) + " 2>&1");
  ASSERT_EQ(t.status, 0) << t.out;
  std::string cfg = out + "/config.json";
  json j = json::parse(read_file(cfg));
  EXPECT_EQ(j["pad_token_id"], 0);  // <pad> <sos> <eos>: ids 0, 1, 2 of the Pig-Latin tokenizer
  EXPECT_EQ(j["bos_token_id"], 1);
  EXPECT_EQ(j["eos_token_id"], 2);
  EXPECT_EQ(ssm("info -m " + quote(out)).status, 0);

  j["eos_token_id"] = 0;  // transformers' default for Mamba, wrong for this tokenizer
  write_file_atomic(cfg, j.dump(2));
  Cmd r = ssm("info -m " + quote(out));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_TRUE(contains(r.out, "ssm: error: " + cfg + ": eos_token_id is 0, but the tokenizer (" +
                                  out + "/ssm_tokenizer.json) has 2; set \"eos_token_id\": 2"))
      << r.out;
}

}  // namespace
}  // namespace ssm::testing
