// CUDA layer_norm / rms_norm / add_rms_norm for ops/norm.cpp (CUDA builds only): plain-pointer launchers.
// The maths is the CPU op's (ops/norm.h): statistics in float32 (float64 for float64 inputs).
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/launch_args.h"

namespace ssm::cuda {

// x: R rows of D, row r at rows.offset(r), element stride sd along D. x, weight, bias, y and the
// gradients share `dtype`; weight / bias (stride ws / bs) may be null.
struct NormProblem {
  int device = 0;
  DType dtype = DType::f32;
  int64_t R = 0, D = 0;
  const void* x = nullptr;
  NdIndex rows;
  int64_t sd = 1;
  const void* w = nullptr;
  int64_t ws = 1;
  const void* b = nullptr;
  int64_t bs = 1;
  double eps = 1e-5;
  bool rms = false;
};

// y (R, D) contiguous; mean (layer_norm only) and rstd (R) in the compute dtype.
void norm_forward(const NormProblem& p, void* y, void* mean, void* rstd);

// g: R rows laid out like `grows` / gsd, in p.dtype. dx (R, D) contiguous, dw, db (D); each may be
// null (not wanted). dw / db are summed over rows in fixed row blocks combined in order.
void norm_backward(const NormProblem& p, const void* g, const NdIndex& grows, int64_t gsd,
                   const void* mean, const void* rstd, void* dx, void* dw, void* db);

// add_rms_norm and add_layer_norm (rms false): x, y, dx and gy (R, D) contiguous in `dtype`;
// residual, r, dresidual and gr (R, D) contiguous in `rdtype`; weight, bias and dweight (D)
// contiguous in `wdtype` (w and b may be null; b only without rms). rdtype and wdtype are each
// `dtype` or its compute dtype; mean (layer norm only) and rstd (R) are in the compute dtype.
struct AddNormProblem {
  int device = 0;
  DType dtype = DType::f32, rdtype = DType::f32, wdtype = DType::f32;
  int64_t R = 0, D = 0;
  const void* w = nullptr;
  const void* b = nullptr;
  double eps = 1e-6;
  bool rms = true;
};

// One kernel: r = x + residual (residual may be null), y = (r - mean) rstd w + b (mean 0 and no b
// when rms), rstd and (layer norm) mean saved.
void add_norm_forward(const AddNormProblem& p, const void* x, const void* residual, void* y,
                      void* r, void* mean, void* rstd);

// One kernel for dx / dresidual (each may be null) and per-row-block dweight partials, then one
// small kernel adding the blocks in order (dw may be null). gr may be null (no gradient on r).
// The bias gradient (a sum of gy over rows) is the caller's.
void add_norm_backward(const AddNormProblem& p, const void* r, const void* gy, const void* gr,
                       const void* mean, const void* rstd, void* dx, void* dres, void* dw);

}  // namespace ssm::cuda
