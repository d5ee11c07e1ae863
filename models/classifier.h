// The sequence-classification architecture ("classifier"): one label per sequence, as in the S4
// papers' sequential-image tasks (sMNIST, psMNIST, sCIFAR) and LRA.
//   encoder -> n_layer x (RMSNorm -> mixer -> dropout, with a residual add around each)
//   -> backbone.norm_f -> pooling over time (mean or last) -> classifier (Linear to num_labels)
// The encoder reads one id per position, either as a number (input: scalar; id / (vocab_size - 1)
// through Linear(1, d_model), the S4 papers' encoder for pixels: pixel / 255 with vocab_size 256)
// or as a token (input: embedding; an Embedding of vocab_size rows).
// Parameters: encoder.weight (d_model, 1) and encoder.bias, or encoder.weight (vocab_size,
// d_model) for embeddings; backbone.layers.{i}.norm.weight, backbone.layers.{i}.mixer.*,
// backbone.norm_f.weight; classifier.weight (num_labels, d_model), classifier.bias.
// Mixers are built with MixerContext::causal = false: the pooled output sees the whole sequence,
// so bidirectional mixers are allowed.
//
// Fitting the LM-shaped Model interface: forward gives logits (B, 1, num_labels) and a batch's
// targets are (B, 1), the label of each sequence, so the trainer's loss and score_batch apply as
// they are. Ids below 0 are padding: they read as 0, are left out of the mean, and the last real
// position is the one before the first pad (pads come after the sequence). A classifier does not
// decode: new_state, prefill and step throw, and next_token_logits() is false.
//
// config.json: architectures ["SSMForSequenceClassification"], model_type "ssm",
// "ssm_architecture": "classifier" (what tells it from an LM dir), "ssm_mixer", the keys below
// by their json names (hidden_size, num_hidden_layers, vocab_size, num_labels, ssm_pooling,
// ssm_input, ssm_residual_dropout, layer_norm_epsilon, ...) and the mixer's keys as the LM writes
// them.
#pragma once

#include <memory>
#include <string>

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

enum class Pooling { mean, last };
enum class InputEncoding { scalar, embedding };

// The architecture's model.* keys (section in models/classifier.cpp).
struct ClassifierConfig {
  int64_t d_model = 128;
  int64_t n_layer = 4;
  int64_t vocab_size = 0;  // 0 (auto): the task's (256 for pixels)
  int64_t num_labels = 10;
  Pooling pooling = Pooling::mean;
  InputEncoding input = InputEncoding::scalar;
  // Dropout on each mixer's output before the residual add (the S4 repository's residual
  // blocks); the S4D and S5 mixers have their own `dropout` inside the layer.
  double residual_dropout = 0.0;
  double initializer_range = 0.02;  // embeddings ~ N(0, initializer_range)
  double layer_norm_epsilon = 1e-5;
  bool residual_in_fp32 = true;

  static const schema::Section<ClassifierConfig>& section();
};

class Classifier : public Model {
 public:
  Classifier(const ModelConfig& cfg, Generator& gen);

  const ModelConfig& config() const override { return cfg_; }
  const ClassifierConfig& classifier_config() const { return c_; }
  int64_t vocab_size() const override { return c_.vocab_size; }
  int64_t num_labels() const { return c_.num_labels; }
  bool next_token_logits() const override { return false; }
  // ids (B, L) -> logits (B, 1, num_labels).
  Tensor forward(const Tensor& ids, const Tensor& seq_start = Tensor()) const override;
  // Checks that the targets are one label per sequence, (B, 1), then Model::loss.
  Tensor loss(const Batch& batch) const override;
  std::unique_ptr<DecodeState> new_state(int64_t batch) const override;
  Tensor prefill(const Tensor& ids, DecodeState& state) const override;
  Tensor step(const Tensor& ids, DecodeState& state) const override;
  void set_gradient_checkpointing(bool on) override { checkpointing_ = on; }
  json config_json() const override;
  std::string summary() const override;
  double flops_per_token() const override;
  int64_t decode_state_elements() const override { return 0; }

  const nn::Mixer& mixer(size_t layer) const;

 private:
  class Backbone;
  Tensor encode(const Tensor& ids) const;  // (B, L) -> (B, L, d_model)
  ModelConfig cfg_;
  ClassifierConfig c_;
  nn::MixerContext ctx_;
  std::shared_ptr<nn::Linear> scalar_encoder_;
  std::shared_ptr<nn::Embedding> embedding_encoder_;
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<nn::Linear> head_;
  bool checkpointing_ = false;
};

// Its entry in the architecture registry (models/registry.cpp).
ArchitectureInfo classifier_architecture_info();

}  // namespace ssm::models
