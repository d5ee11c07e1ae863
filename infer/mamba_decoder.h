// MambaDecoder: the Decoder for models::MambaLM, holding its recurrent cache (conv window and SSM
// state per layer), so each new token costs O(1) in the sequence length.
//
// On a GPU, step() runs the whole model's step as one CUDA graph (recorded at the first step after
// a prefill, replayed after): one launch per token instead of hundreds. The cache tensors and the
// token-id buffer keep their addresses, so reorder() copies rows in place while the row count
// stays the same; a new row count re-records. SSM_CUDA_GRAPH=0 turns graphs off.
#pragma once

#include <memory>

#include "infer/decoder.h"
#include "models/mamba_lm.h"

namespace ssm::infer {

class MambaDecoder final : public Decoder {
 public:
  // The model must outlive the decoder.
  explicit MambaDecoder(const models::MambaLM& model);
  ~MambaDecoder() override;

  Tensor prefill(const Tensor& ids) override;
  Tensor step(const Tensor& ids) override;
  // index_select along dim 0 of every layer's conv_state (B, D, W) and ssm_state (B, D, N).
  void reorder(const Tensor& rows) override;
  int64_t vocab() const override { return model_.config().vocab_size; }

  const models::MambaLMCache& cache() const { return cache_; }
  // True when the last step() ran as a replay of a recorded CUDA graph.
  bool used_graph() const { return used_graph_; }

 private:
  const models::MambaLM& model_;
  models::MambaLMCache cache_;
  bool ready_ = false;  // prefill has run
  bool use_graphs_ = false;
  bool used_graph_ = false;
  struct GraphState;
  std::unique_ptr<GraphState> graph_;  // the recorded step, its id buffer and its logits
};

}  // namespace ssm::infer
