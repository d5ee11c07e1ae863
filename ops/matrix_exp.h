// The matrix exponential of small dense matrices, batched (torch.linalg.matrix_exp).
//
// Dims: ... = batch dims (any number, 0 included), n = matrix size.
#pragma once

#include "core/tensor.h"

namespace ssm {

// exp(A) = Σ_k A^k / k!, for each n x n matrix of A.
// A: (..., n, n), float32 or float64 -> (..., n, n) in A's dtype and device.
// Scaling and squaring with Padé approximants (Higham 2005; the algorithm, its θ_m bounds and
// its backward-error guarantee are stated in ops/small_linalg.h): in float64 degree 3, 5, 7, 9 or
// 13 by ‖A‖₁, in float32 degree 3, 5 or 7, the matrix scaled by 2^-s beyond the last bound and
// squared back s times. Arithmetic in A's dtype; one thread (CPU) or one thread block (CUDA)
// per matrix, meant for small n (the state matrices of SSMs, n up to a few hundred).
// A matrix with a NaN or infinite entry gives NaN throughout.
// Saved: A. Backward (Najfeld & Havel 1995; Mathias 1996): for upstream gradient G,
//   dA = L(Aᵀ, G), the Fréchet derivative of exp at Aᵀ in direction G, which is the upper-right
//   n x n block of exp([[Aᵀ, G], [0, Aᵀ]]): one more exponential, of size 2n.
Tensor matrix_exp(const Tensor& A);

// ---- kernels (ops/dispatch.h): CPU in ops/matrix_exp.cpp, CUDA in ops/cuda/matrix_exp.cpp

struct MatrixExpKernels {
  bool (*supports)(DType dtype);  // float32 and float64
  // out = exp(A) per matrix. A and out: (batch, n, n) contiguous, one dtype and device.
  void (*forward)(const Tensor& A, const Tensor& out);
};

}  // namespace ssm
