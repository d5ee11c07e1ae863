// Cumulative sum along one dim (PyTorch semantics).
//
// Dims: L = the summed dim; shapes are written for it being the last: x: (..., L).
#pragma once

#include "core/tensor.h"

namespace ssm {

// out[..., l] = x[..., 0] + ... + x[..., l]
// x: (..., L) -> out: (..., L). Floating inputs keep their dtype and are summed in float64;
// integer and bool inputs give int64 (as torch.cumsum). A 0-dim x takes dim 0 or -1.
Tensor cumsum(const Tensor& x, int64_t dim);

// ---- kernels (ops/dispatch.h): CPU in ops/cumsum.cpp, CUDA in ops/cuda/cumsum.cpp

struct CumsumKernels {
  bool (*supports)(DType x_dtype);
  // out = the running sum of x along dim d, from its end when `reverse` (the backward); x and
  // out: one shape (at least 1-D), any strides; out in x's dtype when floating, else int64.
  void (*cumsum)(const Tensor& x, int d, bool reverse, const Tensor& out);
};

}  // namespace ssm
