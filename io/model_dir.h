// Model directories in the Hugging Face layout:
//   config.json          the model's config (models/registry.h reads it: transformers' MambaConfig
//                        keys for a Mamba LM, plus ssm_* keys for ssm's own settings); its
//                        pad_token_id, bos_token_id and eos_token_id are the tokenizer's
//   model.safetensors    parameters by their Hugging Face names (a tied LM head is not stored);
//                        read in any float dtype. Instead of it, transformers' sharded layout is
//                        read too: model.safetensors.index.json and the shards it lists
//                        (io/safetensors_index.h)
//   ssm_tokenizer.json   ssm's tokenizer (absent in directories transformers wrote)
// A Mamba directory written here loads in transformers' MambaForCausalLM, and one written by
// transformers (or tools/mamba_reference.py) loads here. Every file is written atomically.
// What this build cannot read gets an error that says so and what to do: a Hugging Face
// tokenizer.json (its BPE tokenizer is not implemented yet), PyTorch's pytorch_model.bin (with the
// one-line conversion to safetensors).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "models/model.h"

namespace ssm::io {

struct LoadedModel {
  std::string dir;
  std::unique_ptr<models::Model> model;
  std::unique_ptr<data::Tokenizer> tokenizer;  // null when the directory has none this build reads

  // The tokenizer, or an ssm::Error saying why `command` has none to turn text into tokens: the
  // directory has no tokenizer file, or only a Hugging Face tokenizer.json. `hint` (what the user
  // can do instead) ends the message when given.
  const data::Tokenizer& need_tokenizer(const std::string& command,
                                        const std::string& hint = "") const;
};

// Writes config.json (with the tokenizer's special token ids), model.safetensors and, when given,
// ssm_tokenizer.json.
void save_model_dir(const std::string& dir, const models::Model& model,
                    const data::Tokenizer* tokenizer);

// Parameters are converted to `dtype` (float32 by default; checkpoints in bfloat16 or float16
// are widened). Missing, unexpected or mis-shaped tensors are errors naming them, and so are
// special token ids in config.json that differ from the tokenizer's.
LoadedModel load_model_dir(const std::string& dir, DType dtype = DType::f32);

// The tensors of a model directory, as stored: model.safetensors, else the shards of
// model.safetensors.index.json (transformers' order). Without either, the error names what the
// directory has instead (PyTorch weights get the command that converts them).
std::map<std::string, Tensor> load_weights(const std::string& dir);

}  // namespace ssm::io
