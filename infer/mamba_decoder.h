// MambaDecoder: the Decoder for models::MambaLM, holding its recurrent cache (conv window and SSM
// state per layer), so each new token costs O(1) in the sequence length.
#pragma once

#include "infer/decoder.h"
#include "models/mamba_lm.h"

namespace ssm::infer {

class MambaDecoder final : public Decoder {
 public:
  // The model must outlive the decoder.
  explicit MambaDecoder(const models::MambaLM& model) : model_(model) {}

  Tensor prefill(const Tensor& ids) override;
  Tensor step(const Tensor& ids) override;
  // index_select along dim 0 of every layer's conv_state (B, D, W) and ssm_state (B, D, N).
  void reorder(const Tensor& rows) override;
  int64_t vocab() const override { return model_.config().vocab_size; }

  const models::MambaLMCache& cache() const { return cache_; }

 private:
  const models::MambaLM& model_;
  models::MambaLMCache cache_;
  bool ready_ = false;  // prefill has run
};

}  // namespace ssm::infer
