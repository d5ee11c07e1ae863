// CUDA solve for ops/solve.cpp (CUDA builds only): plain-pointer launchers.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// For each of `batch` matrices: lu (n x n, holding A) factored in place into P A = L U with its
// pivots piv (n int32), x (n x k, holding B) overwritten by A⁻¹ B, and info (one int32) set to 1
// where a pivot was exactly zero, else 0. Contiguous, float32 or float64 (dtype), on `device`;
// one thread block per matrix runs ops/small_linalg.h's lu_factor and lu_solve.
void solve_factor(void* lu, int32_t* piv, void* x, int32_t* info, DType dtype, int64_t batch,
                  int64_t n, int64_t k, int device);

// x (n x k per matrix) := A⁻ᵀ x with the factors of solve_factor.
void solve_transposed(const void* lu, const int32_t* piv, void* x, DType dtype, int64_t batch,
                      int64_t n, int64_t k, int device);

}  // namespace ssm::cuda
