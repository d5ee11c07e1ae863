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

}  // namespace ssm
