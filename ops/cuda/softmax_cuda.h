// CUDA softmax / log_softmax (ops/cuda/softmax.cu) for ops/softmax.cpp. x, y, g, dx are
// contiguous (A, C, K) arrays of one floating dtype, C the softmax dim.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

void softmax_forward(bool log, DType dtype, int64_t A, int64_t C, int64_t K, const void* x, void* y);
// softmax: dx = y (g - sum g y); log_softmax: dx = g - exp(y) sum g.
void softmax_backward(bool log, DType dtype, int64_t A, int64_t C, int64_t K, const void* y,
                      const void* g, void* dx);

}  // namespace ssm::cuda
