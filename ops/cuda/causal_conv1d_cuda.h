// CUDA causal_conv1d for ops/causal_conv1d.cpp (CUDA builds only): plain-pointer launchers.
// The maths is the CPU op's (ops/causal_conv1d.h); float32 arithmetic (float64 for float64).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// x (B, L, D) with element strides sx[3]; weight (D, W) strides sw[2]; bias (D) stride sb or
// null. x, weight, bias, y and the gradients share `dtype`. silu: y = silu(conv).
struct ConvProblem {
  int device = 0;
  DType dtype = DType::f32;
  int64_t B = 0, L = 0, D = 0, W = 0;
  const void* x = nullptr;
  int64_t sx[3] = {0, 0, 0};
  const void* w = nullptr;
  int64_t sw[2] = {0, 0};
  const void* bias = nullptr;
  int64_t sb = 0;
  bool silu = false;
  // (B, L) contiguous int32, nonzero where a packed sequence starts (taps before it read 0), or
  // null. Forward and backward only.
  const int32_t* seq_start = nullptr;
};

// y (B, L, D) contiguous.
void causal_conv1d_forward(const ConvProblem& p, void* y);

// g (B, L, D) contiguous in p.dtype. dx (B, L, D), dw (D, W), db (D) contiguous, each null when
// not wanted; dw / db summed over (b, t) in fixed blocks combined in order.
void causal_conv1d_backward(const ConvProblem& p, const void* g, void* dx, void* dw, void* db);

// One step: state (B, D, W) contiguous of state_dtype, shifted left and x (B, D) (strides xs0,
// xs1, p.dtype) appended; y (B, D) contiguous in y_dtype. p.x / p.sx are unused.
void causal_conv1d_step(const ConvProblem& p, void* state, DType state_dtype, const void* x,
                        DType x_dtype, int64_t xs0, int64_t xs1, void* y, DType y_dtype);

}  // namespace ssm::cuda
