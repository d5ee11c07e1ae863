// Model dirs as people have them: transformers' sharded weights, bfloat16 / float16 weights, the
// special token ids of config.json against the tokenizer, and the errors for what this build
// cannot read (a Hugging Face tokenizer.json, PyTorch weights), each naming the file.
#include "io/model_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/file.h"
#include "io/safetensors.h"
#include "support/cli.h"
#include "support/errors.h"
#include "support/hf_dirs.h"

namespace ssm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::error_of;
using testing::TempDir;

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

json read_json(const std::string& path) { return json::parse(read_file(path)); }
void write_json(const std::string& path, const json& j) { write_file_atomic(path, j.dump(2)); }

// Every parameter of `got` equals `want`'s, element for element.
void expect_same_weights(const models::Model& got, const std::map<std::string, Tensor>& want) {
  auto params = got.state_dict();
  ASSERT_EQ(params.size(), want.size());
  for (const auto& [name, t] : want) {
    ASSERT_TRUE(params.count(name)) << name;
    EXPECT_EQ(params.at(name).dtype(), DType::f32) << name;
    EXPECT_EQ(params.at(name).to_vector<float>(), t.to(DType::f32).to_vector<float>()) << name;
  }
}

// A tiny model dir without a tokenizer, and the model's weights.
struct Dir {
  TempDir tmp{"ssm_model_dir"};
  std::string path = tmp.path() + "/m";
  std::map<std::string, Tensor> weights;

  explicit Dir(const data::Tokenizer* tok = nullptr) {
    auto model = testing::tiny_lm();
    weights = model->state_dict();
    io::save_model_dir(path, *model, tok);
  }
  std::string index() const { return path + "/model.safetensors.index.json"; }
};

TEST(ModelDirShards, LoadLikeTheSingleFile) {
  Dir d;
  testing::reshard(d.path, 3);
  ASSERT_FALSE(fs::exists(d.path + "/model.safetensors"));
  ASSERT_TRUE(fs::exists(d.path + "/" + testing::shard_name(3, 3)));
  io::LoadedModel m = io::load_model_dir(d.path);
  expect_same_weights(*m.model, d.weights);
}

TEST(ModelDirShards, TheSingleFileWinsWhenBothAreThere) {
  Dir d;
  std::string single = read_file(d.path + "/model.safetensors");
  testing::reshard(d.path, 2);
  write_file_atomic(d.path + "/model.safetensors", single);
  // transformers reads model.safetensors first; a broken shard beside it is never opened.
  write_file_atomic(d.path + "/" + testing::shard_name(1, 2), "not a safetensors file");
  expect_same_weights(*io::load_model_dir(d.path).model, d.weights);
}

TEST(ModelDirShards, AMissingShardIsNamed) {
  Dir d;
  testing::reshard(d.path, 2);
  std::string gone = d.path + "/" + testing::shard_name(2, 2);
  fs::remove(gone);
  std::string e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, d.index())) << e;
  EXPECT_TRUE(contains(e, "shard '" + gone + "' does not exist")) << e;
}

TEST(ModelDirShards, ATensorTheIndexPutsInAShardThatLacksItIsNamed) {
  Dir d;
  testing::reshard(d.path, 2);
  json index = read_json(d.index());
  index["weight_map"]["backbone.extra.weight"] = testing::shard_name(2, 2);
  write_json(d.index(), index);
  std::string e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, d.index() + ": tensor 'backbone.extra.weight' is in shard '" + d.path +
                              "/" + testing::shard_name(2, 2) +
                              "' by the index, but that shard does not hold it"))
      << e;
}

TEST(ModelDirShards, ATensorInTwoShardsIsNamed) {
  Dir d;
  testing::reshard(d.path, 2);
  std::string first = d.path + "/" + testing::shard_name(1, 2),
              second = d.path + "/" + testing::shard_name(2, 2);
  auto a = safetensors::load(first).tensors;
  auto b = safetensors::load(second).tensors;
  std::string name = a.begin()->first;
  b[name] = a.begin()->second;
  safetensors::save(second, b);
  std::string e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, d.index() + ": tensor '" + name + "' is in two shards, '" + first +
                              "' and '" + second + "'"))
      << e;
}

TEST(ModelDirShards, ATensorTheIndexDoesNotPlaceThereIsNamed) {
  Dir d;
  testing::reshard(d.path, 2);
  json index = read_json(d.index());
  std::string name = index["weight_map"].begin().key();
  std::string shard = index["weight_map"][name];
  index["weight_map"].erase(name);
  write_json(d.index(), index);
  std::string e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, d.path + "/" + shard + ": holds tensor '" + name + "', which " +
                              d.index() + " does not list"))
      << e;
}

TEST(ModelDirShards, ACorruptIndexIsNamed) {
  Dir d;
  testing::reshard(d.path, 2);
  json good = read_json(d.index());
  std::string first = good["weight_map"].begin().key();
  auto expect_error = [&](const std::string& text, const std::string& why) {
    write_file_atomic(d.index(), text);
    std::string e = error_of([&] { io::load_model_dir(d.path); });
    EXPECT_TRUE(contains(e, d.index() + ": " + why)) << text << " -> " << e;
  };
  expect_error("{\"weight_map\": {", "not valid JSON");
  expect_error("[1, 2]", "expected a JSON object with a \"weight_map\", found a array");
  expect_error("{\"metadata\": {}}", "no \"weight_map\" object");
  expect_error("{\"weight_map\": {}}", "the weight_map lists no tensors");
  expect_error(json{{"weight_map", {{first, 7}}}}.dump(),
               "weight_map[\"" + first + "\"] must be a shard file name, got 7");
  expect_error(json{{"weight_map", {{first, "../model.safetensors"}}}}.dump(),
               "weight_map[\"" + first +
                   "\"] is \"../model.safetensors\", not the name of a file beside the index");
}

// bfloat16 and float16 checkpoints load widened to float32, exactly: every stored value is a
// float32 value too.
TEST(ModelDirDTypes, HalfWeightsLoadWidened) {
  for (DType dtype : {DType::bf16, DType::f16}) {
    for (int shards : {1, 2}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + ", " + std::to_string(shards) + " file(s)");
      Dir d;
      testing::map_weights(d.path, [&](const Tensor& t) { return t.to(dtype); });
      if (shards > 1) testing::reshard(d.path, shards);
      std::map<std::string, Tensor> want;
      for (const auto& [name, t] : d.weights) want[name] = t.to(dtype);
      for (const auto& [name, t] : io::load_weights(d.path)) EXPECT_EQ(t.dtype(), dtype) << name;
      io::LoadedModel m = io::load_model_dir(d.path);
      expect_same_weights(*m.model, want);
      // The rounding is real: a float32 weight of the tiny model is not a bfloat16 / float16 one.
      bool changed = false;
      for (const auto& [name, t] : d.weights)
        changed |= t.to_vector<float>() != want.at(name).to(DType::f32).to_vector<float>();
      EXPECT_TRUE(changed);
    }
  }
}

TEST(ModelDirSpecialIds, WrittenFromTheTokenizer) {
  data::CharTokenizer chars;
  Dir c(&chars);
  json cj = read_json(c.path + "/config.json");
  EXPECT_EQ(cj["pad_token_id"], chars.pad());
  EXPECT_EQ(cj["bos_token_id"], chars.sos());
  EXPECT_EQ(cj["eos_token_id"], chars.eos());
  EXPECT_EQ(chars.sos(), 1);  // not transformers' default 0: the check below can tell them apart
  io::LoadedModel m = io::load_model_dir(c.path);
  EXPECT_EQ(m.model->config_json()["bos_token_id"], 1)
      << "the loaded model says what the file says";

  data::ByteTokenizer bytes;  // no special tokens: null, not transformers' default 0
  Dir b(&bytes);
  json bj = read_json(b.path + "/config.json");
  for (const char* k : {"pad_token_id", "bos_token_id", "eos_token_id"}) {
    ASSERT_TRUE(bj.contains(k)) << k;
    EXPECT_TRUE(bj[k].is_null()) << k << ": " << bj[k];
  }
  EXPECT_TRUE(io::load_model_dir(b.path).model->config_json()["eos_token_id"].is_null());
}

TEST(ModelDirSpecialIds, AMismatchIsAnErrorNamingBothValues) {
  data::CharTokenizer chars;
  Dir c(&chars);
  std::string cfg = c.path + "/config.json";
  json j = read_json(cfg);
  j["bos_token_id"] = 0;
  write_json(cfg, j);
  std::string e = error_of([&] { io::load_model_dir(c.path); });
  EXPECT_TRUE(contains(e, cfg + ": bos_token_id is 0, but the tokenizer (" + c.path +
                              "/ssm_tokenizer.json) has 1; set \"bos_token_id\": 1"))
      << e;

  data::ByteTokenizer bytes;
  Dir b(&bytes);
  cfg = b.path + "/config.json";
  j = read_json(cfg);
  j["eos_token_id"] = 0;
  write_json(cfg, j);
  e = error_of([&] { io::load_model_dir(b.path); });
  EXPECT_TRUE(contains(e, cfg + ": eos_token_id is 0, but the byte tokenizer")) << e;
  EXPECT_TRUE(contains(e, "has no such token, so it is null; set \"eos_token_id\": null")) << e;
}

TEST(ModelDirSpecialIds, IdsWithoutATokenizerAreKept) {
  Dir d;  // a dir as transformers writes one for GPT-NeoX's tokenizer: every id 0
  std::string cfg = d.path + "/config.json";
  json j = read_json(cfg);
  for (const char* k : {"pad_token_id", "bos_token_id", "eos_token_id"}) j[k] = 0;
  write_json(cfg, j);
  io::LoadedModel m = io::load_model_dir(d.path);
  std::string copy = d.tmp.path() + "/copy";
  io::save_model_dir(copy, *m.model, nullptr);
  EXPECT_EQ(read_json(copy + "/config.json")["eos_token_id"], 0);
}

TEST(ModelDirTokenizer, AHuggingFaceTokenizerIsNamedAsNotYetRead) {
  Dir d;
  write_json(d.path + "/tokenizer.json",
             {{"version", "1.0"},
              {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}}}});
  io::LoadedModel m = io::load_model_dir(d.path);
  EXPECT_FALSE(m.tokenizer);
  std::string e = error_of([&] { m.need_tokenizer("generate"); });
  EXPECT_TRUE(contains(
      e, "generate: '" + d.path + "' has a Hugging Face tokenizer, " + d.path +
             "/tokenizer.json (a BPE model of 3 tokens), which this build does not read yet"))
      << e;
  EXPECT_TRUE(contains(e, "ssm_tokenizer.json")) << e;
  e = error_of([&] { m.need_tokenizer("eval", "use --tokens"); });
  EXPECT_TRUE(e.ends_with("; use --tokens")) << e;

  fs::remove(d.path + "/tokenizer.json");
  e = error_of([&] { m.need_tokenizer("generate"); });
  EXPECT_TRUE(contains(e, "generate: '" + d.path + "' has no tokenizer (ssm_tokenizer.json)")) << e;

  data::CharTokenizer chars;
  Dir c(&chars);
  EXPECT_EQ(io::load_model_dir(c.path).need_tokenizer("generate").vocab_size(), 31);
}

// PyTorch weights get the command that converts them (tests/cli/hf_dir_cli_test.cpp runs it
// where torch and safetensors are installed).
TEST(ModelDirPyTorch, WeightsGetTheConversionCommand) {
  Dir d;
  fs::remove(d.path + "/model.safetensors");
  std::string e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(
      contains(e, "has no model.safetensors (nor model.safetensors.index.json with its shards)"))
      << e;

  write_file_atomic(d.path + "/run.pt", "x");
  e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, "has PyTorch weights, run.pt (if it holds a state dict")) << e;
  EXPECT_TRUE(contains(e, "[\"" + d.path + "/run.pt\"]")) << e;

  write_file_atomic(d.path + "/pytorch_model.bin", "x");
  e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, "model directory '" + d.path +
                              "' has PyTorch weights, pytorch_model.bin, but no "
                              "model.safetensors"))
      << e;
  EXPECT_TRUE(contains(e,
                       "\n  python3 -c 'import torch; from safetensors.torch import save_file; "
                       "save_file({k: v.contiguous().clone() for f in [\"" +
                           d.path +
                           "/pytorch_model.bin\"] "
                           "for k, v in torch.load(f, map_location=\"cpu\").items()}, \"" +
                           d.path + "/model.safetensors\", metadata={\"format\": \"pt\"})'"))
      << e;

  json index = {
      {"metadata", {{"total_size", 8}}},
      {"weight_map",
       {{"a", "pytorch_model-00001-of-00002.bin"}, {"b", "pytorch_model-00002-of-00002.bin"}}}};
  write_json(d.path + "/pytorch_model.bin.index.json", index);
  e = error_of([&] { io::load_model_dir(d.path); });
  EXPECT_TRUE(contains(e, "pytorch_model.bin.index.json and its shards")) << e;
  EXPECT_TRUE(contains(e, "[\"" + d.path + "/pytorch_model-00001-of-00002.bin\", \"" + d.path +
                              "/pytorch_model-00002-of-00002.bin\"]"))
      << e;
}

TEST(ModelDirPyTorch, PathsAreQuotedForTheShellAndPython) {
  TempDir tmp("ssm_model_dir");
  std::string dir = tmp.path() + "/it's \"here\"";
  auto model = testing::tiny_lm();
  io::save_model_dir(dir, *model, nullptr);
  fs::remove(dir + "/model.safetensors");
  write_file_atomic(dir + "/pytorch_model.bin", "x");
  std::string e = error_of([&] { io::load_model_dir(dir); });
  // Inside the shell's single quotes ' is '\'' and inside Python's double quotes " is \".
  EXPECT_TRUE(contains(e, "[\"" + tmp.path() + "/it'\\''s \\\"here\\\"/pytorch_model.bin\"]")) << e;
}

}  // namespace
}  // namespace ssm
