// CUDA copy for ops/flip.cpp (CUDA builds only): a plain-pointer launcher.
#pragma once

#include <cstdint>

#include "ops/cuda/walk.h"

namespace ssm::cuda {

// dst[p] = src[p] for every position of the walk's shape (operands (dst, src), any strides,
// negative ones included); elements move as bits of `elem_size` bytes.
void flip_copy(const Walk<2>& w, void* dst, const void* src, int64_t elem_size, int device);

}  // namespace ssm::cuda
