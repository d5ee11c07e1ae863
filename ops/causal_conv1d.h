// Depthwise causal 1-D convolution over time, channel-last: the short conv of Mamba.
//
// Dims: B = batch, L = time, D = channels, W = kernel width (2..8).
#pragma once

#include "core/tensor.h"

namespace ssm {

// y[b, t, d] = bias[d] + sum_{k=0}^{W-1} weight[d, k] * x[b, t - (W - 1) + k, d], x taken as 0
// before t = 0. Same as F.conv1d(x.transpose(1, 2), weight.unsqueeze(1), bias, padding=W-1,
// groups=D)[..., :L].transpose(1, 2) in PyTorch.
// x: (B, L, D), weight: (D, W), bias: (D) or undefined -> (B, L, D)
// Computed in float32 for bfloat16/float16 inputs (float64 for float64), vectorised over D.
// Saved: x and weight. Backward:
//   dx[b, s, d] = sum_k weight[d, k] g[b, s + (W - 1) - k, d]   (terms with time index < L)
//   dweight[d, k] = sum_{b,t} g[b, t, d] x[b, t - (W - 1) + k, d],  dbias[d] = sum_{b,t} g[b, t, d]
// (the weight/bias sums are taken in fixed blocks of (b, t) rows combined in order, so they do
// not depend on the thread count).
// silu: y = silu(conv) = conv * sigmoid(conv) (Mamba's activation after its conv), fused; the
// backward recomputes the pre-activation from x and multiplies g by silu'.
// seq_start: optional (B, L) int32 / int64 / bool on x's device, nonzero where a new sequence of
// a packed row starts (t = 0 always starts one): taps that reach before the start of the current
// sequence read 0, as before t = 0, and the backward (dx, dweight, dbias) excludes them too.
Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor(),
                     bool silu = false, const Tensor& seq_start = Tensor());

// One decoding step, no autograd. state: (B, D, W), the last W inputs, oldest first (Hugging
// Face's conv_state layout); it is shifted left by one and x: (B, D) appended, in place.
// Returns y: (B, D) = bias[d] + sum_k weight[d, k] * state[b, d, k] (then silu when asked), in
// x's dtype.
Tensor causal_conv1d_step(Tensor& state, const Tensor& x, const Tensor& weight,
                          const Tensor& bias = Tensor(), bool silu = false);

// ---- kernels (ops/dispatch.h): CPU in ops/causal_conv1d.cpp, CUDA in ops/cuda/causal_conv1d.cpp

// The checked inputs: x (B, L, D) as given (possibly strided), weight (D, W) and bias (D) (or
// undefined) in x's dtype, seq_start (B, L) int32 contiguous or undefined.
struct CausalConv1dArgs {
  Tensor x, weight, bias, seq_start;
  bool silu = false;
};

struct CausalConv1dKernels {
  bool (*supports)(DType x_dtype);
  // y: (B, L, D) contiguous, x's dtype and device.
  void (*forward)(const CausalConv1dArgs& a, const Tensor& y);
  // gy: (B, L, D) contiguous in x's dtype. dx (B, L, D), dweight (D, W), dbias (D): contiguous
  // in x's dtype, each undefined when not wanted; written in full.
  void (*backward)(const CausalConv1dArgs& a, const Tensor& gy, const Tensor& dx,
                   const Tensor& dweight, const Tensor& dbias);
  // The step as declared above, on checked inputs (bias undefined or (D)); state updated in
  // place, y (B, D) in x's dtype returned.
  Tensor (*step)(Tensor& state, const Tensor& x, const Tensor& weight, const Tensor& bias,
                 bool silu);
};

}  // namespace ssm
