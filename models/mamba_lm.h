// Mamba language model, Hugging Face MambaForCausalLM layout:
//   backbone.embeddings -> n_layer x (RMSNorm -> Mamba, with a residual add around each)
//   -> backbone.norm_f -> LM head tied to the embeddings
// As in mamba_ssm, each residual add is fused with the next norm (add_rms_norm, ops/norm.h),
// and with residual_in_fp32 the residual stream is float32 whatever the activations' dtype.
// The config's keys are those of transformers' MambaConfig, so config.json + model.safetensors
// written here load in transformers and the other way round. ssm's own settings (the
// discretization and scan algorithm) ride along in config.json under "ssm_*" keys, which
// transformers keeps as plain attributes and ignores.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>

#include "core/rng.h"
#include "nn/mamba.h"
#include "nn/module.h"
#include "nn/module_list.h"
#include "nn/norm.h"

namespace ssm::models {

struct MambaLMConfig {
  int64_t vocab_size = 50280;
  int64_t hidden_size = 768;
  int64_t state_size = 16;
  int64_t num_hidden_layers = 24;
  int64_t expand = 2;
  int64_t conv_kernel = 4;
  int64_t time_step_rank = 0;  // 0 ("auto" in JSON): ceil(hidden_size / 16)
  double layer_norm_epsilon = 1e-5;
  bool use_bias = false;
  bool use_conv_bias = true;
  bool residual_in_fp32 = true;
  bool tie_word_embeddings = true;
  double time_step_min = 1e-3, time_step_max = 0.1, time_step_floor = 1e-4, time_step_scale = 1.0;
  double initializer_range = 0.02;  // embeddings ~ N(0, initializer_range)
  int64_t pad_token_id = 0, bos_token_id = 0, eos_token_id = 0;
  SelectiveScanOptions scan;
  DType dtype = DType::f32;  // parameter dtype (float64 for reference tests)

  nlohmann::json to_json() const;
  // Reads a Hugging Face config.json; unknown keys are ignored (HF configs carry many), wrong
  // types or values are errors naming the key.
  static MambaLMConfig from_json(const nlohmann::json& j);
  nn::MambaBlockConfig block() const;
  void validate() const;
};

struct MambaLMCache {
  std::vector<nn::MambaCache> layers;
};

class MambaLM : public nn::Module {
 public:
  MambaLM(const MambaLMConfig& cfg, Generator& gen);

  // ids (B, L) int -> logits (B, L, vocab). seq_start (B, L), optional: nonzero where a new
  // sequence of a packed row starts (varlen packing); no state or conv window crosses a start, so
  // each packed sequence gets the logits it gets alone.
  Tensor forward(const Tensor& ids, const Tensor& seq_start = Tensor()) const;
  // hidden states before the LM head, (B, L, hidden)
  Tensor hidden(const Tensor& ids, const Tensor& seq_start = Tensor()) const;
  // Runs a prompt and leaves the recurrent state in `cache`; returns the last position's logits.
  Tensor prefill(const Tensor& ids, MambaLMCache& cache) const;
  // One token per sequence: ids (B) -> logits (B, vocab), updating `cache` in O(1).
  Tensor step(const Tensor& ids, MambaLMCache& cache) const;
  MambaLMCache new_cache(int64_t batch) const;

  // Gradient checkpointing: recompute each layer's activations in backward.
  void set_gradient_checkpointing(bool on) { checkpointing_ = on; }
  const MambaLMConfig& config() const { return cfg_; }
  Tensor lm_head_weight() const;

 private:
  class Layer;
  class Backbone;
  MambaLMConfig cfg_;
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<nn::Linear> lm_head_;  // only when embeddings are not tied
  bool checkpointing_ = false;
};

}  // namespace ssm::models
