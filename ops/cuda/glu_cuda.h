// CUDA kernels of the glu op for ops/cuda/glu.cpp (CUDA builds only), plain pointers; the
// contracts are GluKernels' (ops/glu.h).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// x (outer, 2, inner) -> y (outer, inner); one thread per output element.
void glu_forward(DType dtype, const void* x, void* y, int64_t outer, int64_t inner);
// x, dy -> dx (outer, 2, inner); one thread per pair.
void glu_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t outer, int64_t inner);

}  // namespace ssm::cuda
