// The Model interface: what the trainer, eval, generate, translate, info, checkpoints and model
// dirs use, whatever the architecture and mixer behind it. models/registry.h builds them.
//
// A model reads token ids and writes logits; the loss of a batch is its mean cross-entropy over
// the positions whose target is not kIgnoreIndex; decoding goes through a DecodeState (a Mamba's
// conv windows and SSM states, a Transformer's KV cache) in O(1) or O(L) per token. Parameters
// are named by Hugging Face's dotted paths; config_json() is the config.json of the model dir.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/module.h"

namespace ssm::models {

using json = nlohmann::json;

// Targets equal to this are not trained on (cross_entropy's ignore_index).
inline constexpr int64_t kIgnoreIndex = -100;

// A batch of training or evaluation data, as every task produces it.
struct Batch {
  Tensor ids;        // (B, L) int64: the tokens the model reads
  Tensor targets;    // (B, L) int64: the token to predict after each position, or kIgnoreIndex
  Tensor seq_start;  // (B, L), optional: nonzero where a packed sequence starts
};

// Which model to build: the architecture, its sequence mixer, and the values of the model.*
// keys both declare (by their YAML names; absent keys take their defaults).
struct ModelConfig {
  std::string architecture = "lm";
  std::string mixer = "mamba";
  std::string preset = "none";  // the size preset the options started from (YAML model.preset)
  json options = json::object();
  DType dtype = DType::f32;  // parameter dtype (float64 for reference tests)

  bool operator==(const ModelConfig&) const = default;
};

// The recurrent state of a model while decoding; its tensors hold one row per sequence on dim 0.
class DecodeState {
 public:
  virtual ~DecodeState() = default;
  virtual std::vector<Tensor*> rows() = 0;
};

class Model : public nn::Module {
 public:
  virtual const ModelConfig& config() const = 0;
  // The input vocabulary: ids are in [0, vocab_size).
  virtual int64_t vocab_size() const = 0;
  // Whether the logits at each position predict the next token (a language model: generate,
  // translate, demo and eval --tokens decode with it). A classifier's logits are one row of
  // label scores per sequence.
  virtual bool next_token_logits() const { return true; }

  // ids (B, L) int -> logits (B, L, vocab). seq_start as in Batch.
  virtual Tensor forward(const Tensor& ids, const Tensor& seq_start = Tensor()) const = 0;
  // The batch's mean cross-entropy over its trained positions (moved to the model's device).
  virtual Tensor loss(const Batch& batch) const;

  virtual std::unique_ptr<DecodeState> new_state(int64_t batch) const = 0;
  // Reads a prompt ids (B, L >= 1) into a fresh `state`; returns the last position's logits (B, V).
  virtual Tensor prefill(const Tensor& ids, DecodeState& state) const = 0;
  // One token per sequence: ids (B) -> logits (B, V), advancing `state`.
  virtual Tensor step(const Tensor& ids, DecodeState& state) const = 0;

  // Recompute each layer's activations in backward to save memory.
  virtual void set_gradient_checkpointing(bool on) = 0;

  // The Hugging Face config.json of this model (models/registry.h reads it back).
  virtual json config_json() const = 0;
  // For `ssm info` and logs: one line naming the model and its sizes, forward FLOPs per token,
  // and the decoding state per sequence in elements.
  virtual std::string summary() const = 0;
  virtual double flops_per_token() const = 0;
  virtual int64_t decode_state_elements() const = 0;
};

// Why a model of `parameters` parameters in `dtype` cannot be built here, in words ("makes a model
// of 160 trillion parameters, whose float32 weights alone need 640 TB, more than this machine's
// 25.2 GB of memory"); "" when its weights fit in this machine's memory. Architectures check it
// with their other config checks, so an impossible size is an error before any allocation.
std::string size_failure(double parameters, DType dtype);
// A count in words, three significant digits: "544", "2.1 million", "160 trillion".
std::string count_in_words(double n);

}  // namespace ssm::models
