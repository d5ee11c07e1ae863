#include "io/model_dir.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/file.h"
#include "io/safetensors.h"
#include "io/safetensors_index.h"
#include "models/registry.h"

namespace ssm::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kWeightsFile = "model.safetensors";
constexpr const char* kWeightsIndexFile = "model.safetensors.index.json";
constexpr const char* kHfTokenizerFile = "tokenizer.json";  // the `tokenizers` library's format

// config.json's names for the tokenizer's special tokens (transformers' keys).
struct SpecialKey {
  const char* json_name;
  std::optional<int64_t> data::SpecialIds::*id;
};
constexpr SpecialKey kSpecialKeys[] = {{"pad_token_id", &data::SpecialIds::pad},
                                       {"bos_token_id", &data::SpecialIds::bos},
                                       {"eos_token_id", &data::SpecialIds::eos}};

json id_json(const std::optional<int64_t>& id) { return id ? json(*id) : json(); }

// Generation stops at eos_token_id and transformers pads with pad_token_id, so config.json must
// agree with the tokenizer that made the training data.
void check_special_ids(const json& config, const data::Tokenizer& tok, const std::string& cfg_path,
                       const std::string& tok_path) {
  data::SpecialIds ids = tok.special_ids();
  for (const SpecialKey& k : kSpecialKeys) {
    if (!config.contains(k.json_name)) continue;  // unstated: nothing to contradict
    const json& got = config.at(k.json_name);
    json want = id_json(ids.*k.id);
    if (got == want) continue;
    if (want.is_null())
      SSM_FAIL(cfg_path, ": ", k.json_name, " is ", got.dump(), ", but the ", tok.type(),
               " tokenizer (", tok_path, ") has no such token, so it is null; set \"", k.json_name,
               "\": null");
    SSM_FAIL(cfg_path, ": ", k.json_name, " is ", got.dump(), ", but the tokenizer (", tok_path,
             ") has ", want.dump(), "; set \"", k.json_name, "\": ", want.dump());
  }
}

// s in single quotes, for a POSIX shell.
std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

// s as a Python string literal in double quotes.
std::string python_string(const std::string& s) {
  std::string q = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') q += '\\';
    if (c == '\n') {
      q += "\\n";
      continue;
    }
    q += c;
  }
  return q + "\"";
}

// The shell command that merges PyTorch state-dict files into one model.safetensors.
// save_file refuses tensors that share memory, as a tied LM head and its embeddings do in a
// pytorch_model.bin, so every tensor is cloned (ssm drops the duplicate head on load, and
// transformers re-ties it); map_location loads GPU-saved files on any machine; and
// transformers' from_pretrained wants the {"format": "pt"} metadata that save_pretrained writes.
std::string conversion_command(const std::vector<std::string>& files, const std::string& out) {
  std::string list;
  for (const std::string& f : files) list += (list.empty() ? "" : ", ") + python_string(f);
  std::string py =
      "import torch; from safetensors.torch import save_file; save_file({k: v.contiguous().clone() "
      "for f in [" +
      list + "] for k, v in torch.load(f, map_location=\"cpu\").items()}, " + python_string(out) +
      ", metadata={\"format\": \"pt\"})";
  return "python3 -c " + shell_quote(py);
}

// No model.safetensors and no index: say what the directory has instead.
[[noreturn]] void fail_no_weights(const std::string& dir) {
  std::string base = dir + "/";
  std::vector<std::string> files;
  std::string found;
  std::string bin_index = base + "pytorch_model.bin.index.json";
  if (fs::exists(bin_index)) {
    found = "pytorch_model.bin.index.json and its shards";
    for (const std::string& shard : safetensors::read_index(bin_index).shards())
      files.push_back(base + shard);
  } else {
    for (const char* name : {"pytorch_model.bin", "model.bin"})
      if (files.empty() && fs::exists(base + name)) {
        found = name;
        files.push_back(base + name);
      }
  }
  if (files.empty()) {  // a training script's checkpoint, when it holds a plain state dict
    std::vector<std::string> pts;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      std::string ext = e.path().extension().string();
      if (ext == ".pt" || ext == ".pth") pts.push_back(e.path().filename().string());
    }
    std::sort(pts.begin(), pts.end());
    if (!pts.empty()) {
      found = pts[0] + " (if it holds a state dict, parameter name -> tensor)";
      files.push_back(base + pts[0]);
    }
  }
  if (files.empty())
    SSM_FAIL("model directory '", dir, "' has no ", kWeightsFile, " (nor ", kWeightsIndexFile,
             " with its shards)");
  SSM_FAIL(
      "model directory '", dir, "' has PyTorch weights, ", found, ", but no ", kWeightsFile,
      "; this build reads safetensors only (a PyTorch file is a Python pickle). Convert it once, "
      "where torch and safetensors are installed (pip install torch safetensors):\n  ",
      conversion_command(files, base + kWeightsFile));
}

// What tokenizer.json is, for messages: "a BPE model of 50280 tokens".
std::string describe_hf_tokenizer(const std::string& path) {
  try {
    json j = json::parse(read_file(path));
    const json& model = j.at("model");
    std::string type = model.contains("type") ? model.at("type").get<std::string>() : "tokenizers";
    std::string out = "a " + type + " model";
    if (model.contains("vocab") && (model.at("vocab").is_object() || model.at("vocab").is_array()))
      out += " of " + std::to_string(model.at("vocab").size()) + " tokens";
    return out;
  } catch (const std::exception&) {
    return "not a tokenizers file this build recognises";
  }
}

// Where the weights are: model.safetensors, else the index of transformers' shards.
std::string weights_path(const std::string& dir) {
  for (const char* name : {kWeightsFile, kWeightsIndexFile})
    if (fs::exists(dir + "/" + name)) return dir + "/" + name;
  fail_no_weights(dir);
}

std::map<std::string, Tensor> read_weights(const std::string& path) {
  if (path.ends_with(kWeightsIndexFile)) return safetensors::load_sharded(path);
  return safetensors::load(path).tensors;
}

}  // namespace

const data::Tokenizer& LoadedModel::need_tokenizer(const std::string& command,
                                                   const std::string& hint) const {
  if (tokenizer) return *tokenizer;
  std::string hf = dir + "/" + kHfTokenizerFile;
  std::string end = hint.empty() ? "" : "; " + hint;
  if (fs::exists(hf))
    SSM_FAIL(command, ": '", dir, "' has a Hugging Face tokenizer, ", hf, " (",
             describe_hf_tokenizer(hf),
             "), which this build does not read yet: it reads ssm's own ", data::kTokenizerFile,
             " (char and byte tokenizers), so text cannot be turned into tokens", end);
  SSM_FAIL(command, ": '", dir, "' has no tokenizer (", data::kTokenizerFile,
           "), so text cannot be turned into tokens", end);
}

void save_model_dir(const std::string& dir, const models::Model& model,
                    const data::Tokenizer* tokenizer) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  SSM_CHECK(!ec, "cannot create model directory '", dir, "': ", ec.message());
  json config = model.config_json();
  if (tokenizer) {
    data::SpecialIds ids = tokenizer->special_ids();
    for (const SpecialKey& k : kSpecialKeys) config[k.json_name] = id_json(ids.*k.id);
  }
  // Weights first, config last: a directory with a config.json always has its weights.
  safetensors::save(dir + "/" + kWeightsFile, model.state_dict(), {{"format", "pt"}});
  if (tokenizer) write_file_atomic(dir + "/" + data::kTokenizerFile, tokenizer->to_json());
  write_file_atomic(dir + "/config.json", config.dump(2) + "\n");
}

std::map<std::string, Tensor> load_weights(const std::string& dir) {
  return read_weights(weights_path(dir));
}

LoadedModel load_model_dir(const std::string& dir, DType dtype) {
  SSM_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  std::string cfg_path = dir + "/config.json";
  SSM_CHECK(fs::exists(cfg_path), "'", dir, "' is not a model directory: it has no config.json");
  json j;
  try {
    j = json::parse(read_file(cfg_path));
  } catch (const json::parse_error& e) {
    SSM_FAIL(cfg_path, ": invalid JSON: ", e.what());
  }
  LoadedModel out;
  out.dir = dir;
  models::ModelConfig cfg = models::model_config_from_json(j, cfg_path);
  cfg.dtype = dtype;
  std::string tok = dir + "/" + data::kTokenizerFile;
  if (fs::exists(tok)) {
    out.tokenizer = data::load_tokenizer(tok);
    check_special_ids(j, *out.tokenizer, cfg_path, tok);
  }
  Generator gen(0);  // the weights are overwritten below
  try {
    out.model = models::create_model(cfg, gen);
  } catch (const Error& e) {
    SSM_FAIL(cfg_path, ": ", e.what());
  }
  bool has_head = false;  // an untied LM head is a parameter of its own
  for (const auto& [name, p] : out.model->named_parameters()) has_head |= name == "lm_head.weight";

  std::string weights = weights_path(dir);
  std::map<std::string, Tensor> tensors = read_weights(weights);
  // Tied heads: transformers may store lm_head.weight anyway; it must equal the embeddings.
  if (!has_head) {
    if (auto it = tensors.find("lm_head.weight"); it != tensors.end()) {
      auto emb = tensors.find("backbone.embeddings.weight");
      SSM_CHECK(emb != tensors.end() && emb->second.shape() == it->second.shape(), weights,
                ": lm_head.weight is stored but does not match backbone.embeddings.weight");
      tensors.erase(it);
    }
  }
  try {
    out.model->load_state_dict(tensors);
  } catch (const Error& e) {
    SSM_FAIL(weights, ": ", e.what());
  }
  return out;
}

}  // namespace ssm::io
