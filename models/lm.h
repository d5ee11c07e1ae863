// The language-model architecture ("lm"): Hugging Face's MambaForCausalLM layout around any mixer.
//   backbone.embeddings -> n_layer x (RMSNorm -> mixer, with a residual add around each)
//   -> backbone.norm_f -> LM head tied to the embeddings (or lm_head.weight when untied)
// Parameters: backbone.embeddings.weight, backbone.layers.{i}.norm.weight,
// backbone.layers.{i}.mixer.*, backbone.norm_f.weight. As in mamba_ssm, each residual add is fused
// with the next norm (add_rms_norm, ops/norm.h), and with residual_in_fp32 the residual stream is
// float32 whatever the activations' dtype.
// config.json carries transformers' keys for the architecture (hidden_size, num_hidden_layers,
// vocab_size, ...) and the mixer's (MambaConfig's for Mamba: state_size, conv_kernel, ...), so a
// Mamba dir written here loads in transformers' MambaForCausalLM and the other way round; ssm's
// own settings ride along under "ssm_*" keys, which transformers keeps and ignores.
#pragma once

#include <memory>
#include <optional>

#include "core/rng.h"
#include "core/schema.h"
#include "models/model.h"
#include "models/registry.h"
#include "nn/embedding.h"
#include "nn/linear.h"
#include "nn/mixer.h"
#include "nn/module_list.h"
#include "nn/norm.h"

namespace ssm::models {

// The architecture's model.* keys (section in models/lm.cpp).
struct LMConfig {
  int64_t d_model = 768;
  int64_t n_layer = 24;
  int64_t vocab_size = 0;  // 0 (auto): the tokenizer's; must be set to build a model
  double initializer_range = 0.02;  // embeddings ~ N(0, initializer_range)
  double layer_norm_epsilon = 1e-5;
  bool residual_in_fp32 = true;
  bool tie_embeddings = true;
  // config.json only: the tokenizer's special tokens, as transformers names them; none (null)
  // where the tokenizer has no such token. io::save_model_dir writes the tokenizer's.
  std::optional<int64_t> pad_token_id, bos_token_id, eos_token_id;

  static const schema::Section<LMConfig>& section();
};

class LM : public Model {
 public:
  LM(const ModelConfig& cfg, Generator& gen);

  const ModelConfig& config() const override { return cfg_; }
  const LMConfig& lm_config() const { return lm_; }
  int64_t vocab_size() const override { return lm_.vocab_size; }
  Tensor forward(const Tensor& ids, const Tensor& seq_start = Tensor()) const override;
  std::unique_ptr<DecodeState> new_state(int64_t batch) const override;
  Tensor prefill(const Tensor& ids, DecodeState& state) const override;
  Tensor step(const Tensor& ids, DecodeState& state) const override;
  void set_gradient_checkpointing(bool on) override { checkpointing_ = on; }
  json config_json() const override;
  std::string summary() const override;
  double flops_per_token() const override;
  int64_t decode_state_elements() const override;

  Tensor lm_head_weight() const;
  const nn::Mixer& mixer(size_t layer) const;

 private:
  class Backbone;
  Tensor hidden(const Tensor& ids, const Tensor& seq_start) const;  // (B, L, d_model) before the head
  ModelConfig cfg_;
  LMConfig lm_;
  nn::MixerContext ctx_;
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<nn::Linear> lm_head_;  // only when embeddings are not tied
  bool checkpointing_ = false;
};

// Its entry in the architecture registry (models/registry.cpp).
ArchitectureInfo lm_architecture_info();

}  // namespace ssm::models
