// A small fixed-context language model: the previous `context` tokens are embedded,
// concatenated and passed through Linear -> LayerNorm -> GELU -> Linear to next-token logits.
// It is the model of `ssm demo` (the Mamba language model replaces it as the main job).
#pragma once

#include <memory>

#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/norm.h"

namespace ssm::models {

struct MlpLMConfig {
  int64_t vocab = 64;
  int64_t context = 2;
  int64_t d_embed = 32;
  int64_t d_hidden = 256;
};

class MlpLM : public nn::Module {
 public:
  MlpLM(const MlpLMConfig& cfg, Generator& gen);
  // ids: (B, context) int -> logits (B, vocab)
  Tensor forward(const Tensor& ids) const;
  const MlpLMConfig& config() const { return cfg_; }

 private:
  MlpLMConfig cfg_;
  std::shared_ptr<nn::Embedding> embed_;
  std::shared_ptr<nn::Linear> fc1_, fc2_;
  std::shared_ptr<nn::LayerNorm> norm_;
};

}  // namespace ssm::models
