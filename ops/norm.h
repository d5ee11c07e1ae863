// Normalisation over the last dim: layer_norm and rms_norm, fused forward and backward kernels.
//
// Dims: ... = leading dims (flattened into R rows), D = the normalised dim.
// Statistics are computed in float32 for float32/bfloat16/float16 inputs (float64 for float64),
// saved per row for backward, and the result is rounded once to the input dtype. weight and bias
// must have the input's dtype; either may be an undefined Tensor (no scale / no shift).
// The weight and bias gradients are reductions over rows taken in fixed row blocks combined in
// order, so they do not depend on the thread count.
#pragma once

#include "core/tensor.h"

namespace ssm {

// y = (x - mean) * rstd * weight + bias, rstd = 1 / sqrt(var + eps), mean and biased var over D
// (torch.nn.functional.layer_norm(x, (D,), weight, bias, eps)).
// x: (..., D), weight: (D), bias: (D) -> (..., D)
// Saved: x, weight, and per row mean and rstd (float32, float64 for float64 inputs).
// Backward, with xhat = (x - mean) rstd and h = g weight:
//   dx = rstd (h - mean_D(h) - xhat mean_D(h xhat)),
//   dweight = sum_rows g xhat,  dbias = sum_rows g.
Tensor layer_norm(const Tensor& x, const Tensor& weight = Tensor(), const Tensor& bias = Tensor(),
                  double eps = 1e-5);

// y = x * rsqrt(mean_D(x^2) + eps) * weight, the RMSNorm of Mamba / Hugging Face
// (MambaRMSNorm; it too computes in float32 for low-precision inputs; it rounds x * rsqrt(..)
// to the input dtype before the weight multiply, where we round only the final product).
// x: (..., D), weight: (D) -> (..., D)
// Saved: x, weight, and per row rstd = rsqrt(mean(x^2) + eps).
// Backward, with xhat = x rstd and h = g weight:
//   dx = rstd (h - xhat mean_D(h xhat)),  dweight = sum_rows g xhat.
Tensor rms_norm(const Tensor& x, const Tensor& weight = Tensor(), double eps = 1e-6);

}  // namespace ssm
