// ModelDecoder: the Decoder for any models::Model, holding its decoding state (a Mamba LM's conv
// windows and SSM states), so each new token costs what the model's step costs (O(1) in the
// sequence length for SSMs).
//
// On a GPU, step() runs the whole model's step as one CUDA graph (recorded at the first step after
// a prefill, replayed after): one launch per token instead of hundreds. The state tensors and the
// token-id buffer keep their addresses, so reorder() copies rows in place while the row count
// stays the same; a new row count re-records. SSM_CUDA_GRAPH=0 turns graphs off.
#pragma once

#include <memory>

#include "infer/decoder.h"
#include "models/model.h"

namespace ssm::infer {

class ModelDecoder final : public Decoder {
 public:
  // The model must outlive the decoder.
  explicit ModelDecoder(const models::Model& model);
  ~ModelDecoder() override;

  Tensor prefill(const Tensor& ids) override;
  Tensor step(const Tensor& ids) override;
  // index_select along dim 0 of every tensor of the state.
  void reorder(const Tensor& rows) override;
  int64_t vocab() const override { return model_.vocab_size(); }

  // The model's decoding state (null before the first prefill).
  models::DecodeState* state() const { return state_.get(); }
  // True when the last step() ran as a replay of a recorded CUDA graph.
  bool used_graph() const { return used_graph_; }

 private:
  const models::Model& model_;
  std::unique_ptr<models::DecodeState> state_;
  bool use_graphs_ = false;
  bool used_graph_ = false;
  struct GraphState;
  std::unique_ptr<GraphState> graph_;  // the recorded step, its id buffer and its logits
};

}  // namespace ssm::infer
