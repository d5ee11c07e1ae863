// Normalisation over the last dim: layer_norm, rms_norm, add_rms_norm (residual add + RMSNorm)
// and add_layer_norm (residual add + LayerNorm), fused forward and backward kernels.
//
// Dims: ... = leading dims (flattened into R rows), D = the normalised dim.
// Statistics are computed in float32 for float32/bfloat16/float16 inputs (float64 for float64),
// saved per row for backward, and the result is rounded once to the input dtype. weight and bias
// must have the input's dtype (add_rms_norm also takes the compute dtype); either may be an
// undefined Tensor (no scale / no shift).
// The weight and bias gradients are reductions over rows taken in fixed row blocks combined in
// order, so they do not depend on the thread count.
#pragma once

#include <utility>

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

// The pre-norm residual step of a Mamba stack, fused (mamba_ssm's layer_norm_fn with
// is_rms_norm, prenorm and residual_in_fp32):
//   r = residual + x   (r = x when residual is undefined: the first layer),
//   y = rms_norm(r, weight, eps),   returns {y, r}.
// r feeds the next layer's residual, so both outputs take gradients.
// Dtypes: y has x's dtype. r has float32 (float64 for float64 x) when residual_in_fp32, else the
// residual's dtype (x's when there is none); a residual, if given, must already have r's dtype,
// and r's and the weight's dtype must each be x's or its compute dtype (bf16 x with a float32
// residual stream and float32 weight is the mixed-precision case). y is computed from r as
// stored, in the compute dtype, and rounded once to x's dtype.
// x, residual: (..., D), weight: (D) or undefined -> y, r: (..., D)
// Saved: r, weight, and per row rstd = rsqrt(mean_D(r^2) + eps).
// Backward, with rhat = r rstd, h = gy weight and gr the gradient arriving on r:
//   dr = gr + rstd (h - rhat mean_D(h rhat)),  dx = dresidual = dr (each in its input's dtype),
//   dweight = sum_rows gy rhat.
std::pair<Tensor, Tensor> add_rms_norm(const Tensor& x, const Tensor& residual,
                                       const Tensor& weight = Tensor(), double eps = 1e-6,
                                       bool residual_in_fp32 = false);

// The residual add fused with a layer norm (a pre-norm Transformer block's add + LayerNorm):
//   r = residual + x,   y = layer_norm(r, weight, bias, eps),   returns {y, r},
// with add_rms_norm's dtype rules (bias as the weight; weight and bias share one dtype).
// Saved: r, weight, and per row mean and rstd. Backward, with rhat = (r - mean) rstd,
// h = gy weight and gr the gradient arriving on r:
//   dr = gr + rstd (h - mean_D(h) - rhat mean_D(h rhat)),  dx = dresidual = dr,
//   dweight = sum_rows gy rhat,  dbias = sum_rows gy.
std::pair<Tensor, Tensor> add_layer_norm(const Tensor& x, const Tensor& residual,
                                         const Tensor& weight = Tensor(),
                                         const Tensor& bias = Tensor(), double eps = 1e-5,
                                         bool residual_in_fp32 = false);

// ---- kernels (ops/dispatch.h): CPU in ops/norm.cpp, CUDA in ops/cuda/norm.cpp ------------------

// layer_norm / rms_norm (rms): x (..., D) as given (possibly strided), weight and bias (D) in x's
// dtype or undefined (no bias with rms).
struct NormArgs {
  Tensor x, weight, bias;
  double eps = 0;
  bool rms = false;
};

// add_layer_norm / add_rms_norm (rms): x (..., D) contiguous, R rows of D; residual contiguous
// in x's shape and r's dtype, or undefined; weight and bias (D) in one dtype (x's or its compute
// dtype), or undefined.
struct AddNormArgs {
  Tensor x, residual, weight, bias;
  double eps = 0;
  bool rms = false;
};

// The per-row statistics saved by a forward: mean (undefined for the RMSNorms) and rstd, each
// (R) contiguous in the compute dtype.
struct NormStats {
  Tensor mean, rstd;
};

struct NormKernels {
  bool (*supports)(DType x_dtype);
  // y: x's shape, contiguous, x's dtype. The statistics are written too.
  void (*forward)(const NormArgs& a, const Tensor& y, const NormStats& s);
  // gy: the output gradient as it reaches the node. dx (x's shape), dweight and dbias (D):
  // contiguous in x's dtype, each undefined when not wanted; written in full.
  void (*backward)(const NormArgs& a, const NormStats& s, const Tensor& gy, const Tensor& dx,
                   const Tensor& dweight, const Tensor& dbias);
  // y in x's dtype and r in r's dtype: x's shape, contiguous. The statistics are written too.
  void (*add_forward)(const AddNormArgs& a, const Tensor& y, const Tensor& r, const NormStats& s);
  // r as the forward stored it; weight as given to the forward; gy contiguous in x's dtype; gr
  // contiguous in r's dtype, or undefined (no gradient reached r). dx (x's dtype), dresidual (r's
  // dtype), both r's shape, and dweight (D, weight's dtype): contiguous, each undefined when not
  // wanted; written in full. The bias gradient is the op's (a sum of gy).
  void (*add_backward)(const Tensor& r, const Tensor& weight, const NormStats& s, const Tensor& gy,
                       const Tensor& gr, const Tensor& dx, const Tensor& dresidual,
                       const Tensor& dweight);
};

}  // namespace ssm
