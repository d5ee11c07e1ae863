// Embedding lookup: rows of a table picked by integer ids.
//
// Dims: V = rows of the table (vocabulary), D = embedding dim, ... = any shape of ids.
#pragma once

#include <cstdint>
#include <optional>

#include "core/tensor.h"

namespace ssm {

// out[..., :] = weight[ids[...], :], like torch.nn.functional.embedding(ids, weight, padding_idx).
// weight: (V, D) floating, ids: (...) int32 or int64 -> (..., D) with weight's dtype.
// An id outside [0, V) throws ssm::Error naming the id, its position in `ids` and V.
// padding_idx (negative counts from V, as in PyTorch): the output still holds that row, but it
// receives no gradient.
// Backward: dW[v] = sum of the output gradients of every position whose id is v, summed in
// position order (the positions are grouped by id first, so the sums are deterministic and
// parallel over ids).
Tensor embedding(const Tensor& weight, const Tensor& ids,
                 std::optional<int64_t> padding_idx = std::nullopt);

// ---- kernels (ops/dispatch.h): CPU in ops/embedding.cpp, CUDA in ops/cuda/embedding.cpp --------

struct EmbeddingKernels {
  bool (*supports)(DType weight_dtype);
  // out (ids..., D) contiguous = the rows of weight (V, D) (any strides) picked by ids (int32 or
  // int64, any strides). An id outside [0, V) is the ssm::Error stated above. With keep_ids,
  // returns the ids for the backward (a copy where ids is contiguous, so that later in-place
  // writes to ids do not change the gradient), else an undefined tensor.
  Tensor (*forward)(const Tensor& weight, const Tensor& ids, const Tensor& out, bool keep_ids);
  // dweight (V, D) contiguous, written in full, from gy (the output gradient as it reaches the
  // node) and the ids the forward kept; row `pad` (or none, -1) gets zeros.
  void (*backward)(const Tensor& ids, const Tensor& gy, int64_t pad, const Tensor& dweight);
};

}  // namespace ssm
