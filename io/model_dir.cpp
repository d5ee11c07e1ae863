#include "io/model_dir.h"

#include <filesystem>

#include "core/autograd.h"
#include "core/error.h"
#include "core/file.h"
#include "io/safetensors.h"
#include "models/registry.h"

namespace ssm::io {

namespace fs = std::filesystem;

void save_model_dir(const std::string& dir, const models::Model& model,
                    const data::Tokenizer* tokenizer) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  SSM_CHECK(!ec, "cannot create model directory '", dir, "': ", ec.message());
  // Weights first, config last: a directory with a config.json always has its weights.
  safetensors::save(dir + "/model.safetensors", model.state_dict(), {{"format", "pt"}});
  if (tokenizer) write_file_atomic(dir + "/" + data::kTokenizerFile, tokenizer->to_json());
  write_file_atomic(dir + "/config.json", model.config_json().dump(2) + "\n");
}

LoadedModel load_model_dir(const std::string& dir, DType dtype) {
  SSM_CHECK(fs::is_directory(dir), "model directory '", dir, "' does not exist");
  std::string cfg_path = dir + "/config.json";
  SSM_CHECK(fs::exists(cfg_path), "'", dir, "' is not a model directory: it has no config.json");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(cfg_path));
  } catch (const nlohmann::json::parse_error& e) {
    SSM_FAIL(cfg_path, ": invalid JSON: ", e.what());
  }
  LoadedModel out;
  models::ModelConfig cfg = models::model_config_from_json(j, cfg_path);
  cfg.dtype = dtype;
  Generator gen(0);  // the weights are overwritten below
  try {
    out.model = models::create_model(cfg, gen);
  } catch (const Error& e) {
    SSM_FAIL(cfg_path, ": ", e.what());
  }
  bool has_head = false;  // an untied LM head is a parameter of its own
  for (const auto& [name, p] : out.model->named_parameters()) has_head |= name == "lm_head.weight";

  std::string weights = dir + "/model.safetensors";
  SSM_CHECK(fs::exists(weights), "model directory '", dir, "' has no model.safetensors");
  auto file = safetensors::load(weights);
  auto& tensors = file.tensors;
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
  std::string tok = dir + "/" + data::kTokenizerFile;
  if (fs::exists(tok)) out.tokenizer = data::load_tokenizer(tok);
  return out;
}

}  // namespace ssm::io
