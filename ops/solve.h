// Linear solves with small dense matrices, batched (torch.linalg.solve).
//
// Dims: ... = batch dims (broadcast between A and B like PyTorch), n = matrix size, k = the
// number of right-hand sides.
#pragma once

#include "core/tensor.h"

namespace ssm {

// X = A⁻¹ B, the solution of A X = B for each matrix of A.
//   A (..., n, n), B (..., n, k) -> X (..., n, k), batch dims broadcast;
//   B a vector when it is 1-D (n) or has A's shape without the last dim (..., n) -> X like B,
//   the rule of torch.linalg.solve.
// float32 or float64, one dtype and device. LU with partial pivoting (ops/small_linalg.h, as
// LAPACK's getrf / getrs) in the inputs' dtype, one thread (CPU) or one thread block (CUDA) per
// matrix, meant for small n. A matrix with an exactly zero pivot is an ssm::Error naming it (on
// CUDA, that check copies one flag per matrix to the host, a synchronisation); a matrix that is
// merely ill-conditioned is solved as it is.
// Saved: the LU factors with their pivots, and X. Backward, for upstream gradient G:
//   dB = A⁻ᵀ G (a transposed solve with the saved factors),  dA = -dB Xᵀ,
// each summed over the batch dims its input was broadcast on.
Tensor solve(const Tensor& A, const Tensor& B);

// ---- kernels (ops/dispatch.h): CPU in ops/solve.cpp, CUDA in ops/cuda/solve.cpp

struct SolveKernels {
  bool (*supports)(DType dtype);  // float32 and float64
  // lu (batch, n, n) holds A and is factored in place into P A = L U, its pivots written to piv
  // (batch, n) int32; X (batch, n, k) holds B and is overwritten by A⁻¹ B. All contiguous, on one
  // device. Returns the index of the first matrix with a zero pivot, or -1.
  int64_t (*factor_solve)(const Tensor& lu, const Tensor& piv, const Tensor& X);
  // X (batch, n, k) := A⁻ᵀ X, with lu and piv from factor_solve.
  void (*solve_transposed)(const Tensor& lu, const Tensor& piv, const Tensor& X);
};

}  // namespace ssm
