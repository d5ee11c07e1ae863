// Discretization of a linear time-invariant SSM with a small dense state matrix:
//   x'(t) = A x(t) + B u(t)   ->   x_k = Ā x_{k-1} + B̄ u_k
// (the diagonal complex rules, and their names, are in ops/lti_discretization.h).
//
// Dims: ... = batch dims (broadcast between A, B and dt), N = state size, M = input size.
#pragma once

#include "core/tensor.h"
#include "ops/lti_discretization.h"

namespace ssm {

struct DenseDiscretized {
  Tensor A_bar;  // (..., N, N)
  Tensor B_bar;  // (..., N, M)
};

// A (..., N, N), B (..., N, M), dt (...) with dt > 0 (a 0-dim tensor for one step everywhere);
// the batch dims of the three broadcast. float32 or float64, one dtype and device.
//   zoh                   Ā = e^{dt A}, B̄ = ∫₀^dt e^{s A} ds B = A⁻¹ (e^{dt A} - I) B, both from
//                         one exponential of the (N + M) square block (Van Loan 1978):
//                           exp([[dt A, dt B], [0, 0]]) = [[Ā, B̄], [0, I]]
//                         (no inverse of A: singular A is fine)
//   generalized_bilinear  Ā = (I - (1-α) dt A)⁻¹ (I + α dt A),  B̄ = (I - (1-α) dt A)⁻¹ dt B,
//                         one solve with N + M right-hand sides; α = 0 backward Euler, ½
//                         bilinear, 1 forward Euler
//   bilinear              generalized_bilinear with α = ½ (`alpha` is not read)
// Differentiable in A, B and dt through matrix_exp, solve and the elementwise ops that build the
// blocks (it records no node of its own).
DenseDiscretized discretize_dense(const Tensor& A, const Tensor& B, const Tensor& dt,
                                  LtiDiscretization method, double alpha = 0.5);

}  // namespace ssm
