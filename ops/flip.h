// Reversing the order of elements along dims (PyTorch semantics).
#pragma once

#include <vector>

#include "core/tensor.h"

namespace ssm {

// out[i][j] = x[I-1-i][j] for dims = {0}; every listed dim is reversed.
// x: (I, J, ...) -> out: same shape and dtype (any dtype: only bits move). dims may be negative,
// must be distinct, and may be empty (a copy). A 0-dim x takes dims {0} or {-1}.
Tensor flip(const Tensor& x, const std::vector<int64_t>& dims);

// ---- kernels (ops/dispatch.h): CPU in ops/flip.cpp, CUDA in ops/cuda/flip.cpp

struct FlipKernels {
  bool (*supports)(DType dtype);
  // out = src element by element, as bits; src: a view of x with the flipped dims' strides
  // negated, out: contiguous, of x's shape and dtype.
  void (*copy)(const Tensor& src, const Tensor& out);
};

}  // namespace ssm
