// CUDA dropout for ops/dropout.cpp (CUDA builds only): a plain-pointer launcher.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/walk.h"

namespace ssm::cuda {

// out[i] = in[i] * scale where element i (row-major over the walk's shape) is kept, else 0,
// with ops/dropout.h's mask rule: the same core/rng.h Philox function of (seed, base + i / 4),
// word i % 4, so the mask is the CPU's for the same generator state. The walk's operands are
// (out, in); both have `dtype` (floating), arithmetic in its compute type.
void dropout(const Walk<2>& w, void* out, const void* in, DType dtype, double p, double scale,
             uint64_t seed, uint64_t base, int device);

}  // namespace ssm::cuda
