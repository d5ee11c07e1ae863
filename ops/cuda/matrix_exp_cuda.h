// CUDA matrix_exp for ops/matrix_exp.cpp (CUDA builds only): a plain-pointer launcher.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// out = exp(a) for `batch` row-major n x n matrices, contiguous, float32 or float64 (dtype), on
// `device`: one thread block per matrix runs ops/small_linalg.h's matrix_exp.
void matrix_exp(const void* a, void* out, DType dtype, int64_t batch, int64_t n, int device);

}  // namespace ssm::cuda
