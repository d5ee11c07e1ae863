// Dropout with a mask regenerated from the counter-based RNG instead of being stored.
#pragma once

#include "core/rng.h"
#include "core/tensor.h"

namespace ssm {

// y = x * keep / (1 - p), like torch.nn.functional.dropout(x, p, training).
// x: (...) floating -> (...)
// Mask rule: a call reserves ceil(n / 4) Philox counters from `gen` (the default generator when
// null) starting at `base`; element i of x (row-major order, whatever x's strides) is kept iff
//   uniform_f32(philox4x32_10(seed, base + i / 4).w[i % 4]) >= p
// (uniform_f32: the top 24 bits of the word over 2^24, see core/rng.h), so the mask depends only
// on (seed, base, i), never on the thread count, and a CUDA kernel can reproduce it.
// p must be in [0, 1]; p = 1 gives zeros. training = false or p = 0 returns x itself (no copy, no
// graph node). Backward: dx = g * keep / (1 - p), with the mask regenerated from (seed, base).
Tensor dropout(const Tensor& x, double p, bool training = true, Generator* gen = nullptr);

// ---- kernels (ops/dispatch.h): CPU in ops/dropout.cpp, CUDA in ops/cuda/dropout.cpp ------------

struct DropoutKernels {
  bool (*supports)(DType dtype);
  // y = x * scale where element i of x (row-major, whatever x's strides) is kept by the mask rule
  // above for (seed, base), else 0. y: x's shape and dtype, contiguous. Forward and backward
  // (x = the output gradient) alike.
  void (*apply_mask)(const Tensor& x, const Tensor& y, double p, double scale, uint64_t seed,
                     uint64_t base);
};

}  // namespace ssm
