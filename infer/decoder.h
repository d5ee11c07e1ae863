// Decoder: the incremental interface that sampling and beam search drive, so decoding does not
// depend on the model behind it (a Mamba's recurrent state, a Transformer's KV cache, a toy table).
//
// Dims: B = rows the decoder holds state for, L = prompt length, V = vocabulary size.
// Token ids are int64 tensors on the CPU; an adapter moves them to its model's device. Logits may
// have any floating dtype and device; callers copy them to the CPU before the next call, which may
// overwrite them (a GPU decoder replays a recorded step into the same logits tensor).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm::infer {

class Decoder {
 public:
  virtual ~Decoder() = default;

  // ids: (B, L) int64, L >= 1 -> logits (B, V) of the last position. Replaces any state held
  // before with B rows, each having read its prompt.
  virtual Tensor prefill(const Tensor& ids) = 0;
  // ids: (B) int64, one token per row -> logits (B, V) for the next position; advances every row.
  virtual Tensor step(const Tensor& ids) = 0;
  // rows: (B') int64 with values in [0, B) -> the state becomes B' rows, row i a copy of old row
  // rows[i]. Rows may repeat (beams that share a prefix) or be left out (finished sequences).
  virtual void reorder(const Tensor& rows) = 0;
  virtual int64_t vocab() const = 0;
};

}  // namespace ssm::infer
