// Model directories in the Hugging Face layout:
//   config.json          the model's config (models/registry.h reads it: transformers' MambaConfig
//                        keys for a Mamba LM, plus ssm_* keys for ssm's own settings)
//   model.safetensors    parameters by their Hugging Face names (a tied LM head is not stored)
//   ssm_tokenizer.json   ssm's tokenizer (absent in directories transformers wrote)
// A Mamba directory written here loads in transformers' MambaForCausalLM, and one written by
// transformers (or tools/mamba_reference.py) loads here. Every file is written atomically.
#pragma once

#include <memory>
#include <string>

#include "data/tokenizer.h"
#include "models/model.h"

namespace ssm::io {

struct LoadedModel {
  std::unique_ptr<models::Model> model;
  std::unique_ptr<data::Tokenizer> tokenizer;  // null when the directory has none
};

void save_model_dir(const std::string& dir, const models::Model& model,
                    const data::Tokenizer* tokenizer);

// Parameters are converted to `dtype` (float32 by default; checkpoints in bfloat16 or float16
// are widened). Missing, unexpected or mis-shaped tensors are errors naming them.
LoadedModel load_model_dir(const std::string& dir, DType dtype = DType::f32);

}  // namespace ssm::io
