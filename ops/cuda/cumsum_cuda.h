// CUDA cumsum for ops/cumsum.cpp (CUDA builds only): a plain-pointer launcher.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/walk.h"

namespace ssm::cuda {

// out = running sum of x along one dim (from its end when `reverse`). `rest` walks the positions
// outside the dim with operands (x, out); the dim has `len` steps of strides xstep / ostep. One
// thread per position sums in order, in float64 for floating x (out in x's dtype) and in wrapping
// 64-bit integers for int32/int64/bool x (out int64): the CPU kernel's arithmetic, bit for bit.
void cumsum(const Walk<2>& rest, const void* x, DType x_dtype, void* out, DType out_dtype,
            int64_t len, int64_t xstep, int64_t ostep, bool reverse, int device);

}  // namespace ssm::cuda
