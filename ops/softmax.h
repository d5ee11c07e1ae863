// softmax and log_softmax along one dim, numerically stable (the max is subtracted first).
//
// x: (..., C, ...) with C = x.size(dim); the result has x's shape and dtype. bf16/f16 inputs are
// computed in float32 and rounded once on output. Rows along the last dim of a contiguous tensor
// are the fast path; any dim and layout is supported (non-contiguous inputs are copied once).
// A 0-dim tensor takes dim 0 / -1 and is one row of one element. A row of all -inf gives NaN, as
// in PyTorch.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

// y = exp(x - max) / sum(exp(x - max)) along `dim`. Backward: dx = y (g - sum(g y)).
Tensor softmax(const Tensor& x, int64_t dim);
// y = x - max - log(sum(exp(x - max))) along `dim`. Backward: dx = g - exp(y) sum(g).
Tensor log_softmax(const Tensor& x, int64_t dim);

// ---- kernels (ops/dispatch.h): CPU in ops/softmax.cpp, CUDA in ops/cuda/softmax.cpp

// x seen as a contiguous (A, C, K) array: C = the softmax dim, A = the dims before it, K = the
// dims after it.
struct SoftmaxDims {
  int64_t A = 1, C = 1, K = 1;
};

// Every tensor is a contiguous (A, C, K) array of one floating dtype; log picks log_softmax.
struct SoftmaxKernels {
  bool (*supports)(DType dtype);
  void (*forward)(bool log, const Tensor& x, const SoftmaxDims& s, const Tensor& y);
  // dx from the output y and its gradient g, as stated above.
  void (*backward)(bool log, const Tensor& y, const Tensor& g, const SoftmaxDims& s,
                   const Tensor& dx);
};

}  // namespace ssm
