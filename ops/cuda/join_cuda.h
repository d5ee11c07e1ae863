// CUDA cat / split copies for ops/join.cpp (CUDA builds only): plain-pointer launchers.
#pragma once

#include <cstdint>
#include <vector>

#include "core/shape.h"

namespace ssm::cuda {

// One piece of a joined tensor: its elements [start, start + n) along the joined dim; `p` its
// first element with `stride` per dim (the big tensor's dims). p null: the piece reads as zeros
// (when joining) or is not wanted (when splitting).
struct JoinPiece {
  void* p = nullptr;
  int64_t start = 0, n = 0;
  int64_t stride[kMaxDims] = {};
};

// One kernel for all pieces. join: big = the pieces laid end to end along dim d (cat, and
// split's backward); otherwise each piece = its window of big (cat's backward). `big` has
// `shape` and `strides`; elements move as bits of `elem_size` bytes. Pieces must be ordered by
// start and cover the dim (empty ones may be left out).
void join_copy(bool join, void* big, const Shape& shape, const Shape& strides, int d,
               const std::vector<JoinPiece>& pieces, int64_t elem_size, int device);

}  // namespace ssm::cuda
