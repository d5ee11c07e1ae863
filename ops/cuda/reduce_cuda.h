// CUDA kernels for the backward passes of ops/reduce.cpp (ops/cuda/reduce.cu); the forward
// reductions use core's engine (core/cuda/reduce.h).
#pragma once

#include <cstdint>

#include "core/cuda/strided.h"

namespace ssm::cuda {

// max/min backward: dx (contiguous, x's shape `x_dims`, zero-filled by the caller) gets g[a] at
// the element picked in row a: a unravelled over the kept dims perm[0, nkept), idx[a] over the
// reduced dims perm[nkept, ndim) (both row-major). g: A contiguous elements of dx's dtype.
void scatter_rows(const Dims& x_dims, const int64_t* perm, int nkept, int64_t A, void* dx,
                  const void* g, const int64_t* idx, DType dtype);

enum class ReduceGrad : uint8_t {
  var,        // dx = scale (x - s) g, s = the mean
  logsumexp,  // dx = g exp(x - s), s = logsumexp
};
// dx, x, g of x's floating dtype, s of its compute dtype; s and g broadcast over reduced dims.
void reduce_backward(ReduceGrad kind, double scale, const Dims& dims, const Arg& dx, const Arg& x,
                     const Arg& s, const Arg& g);

}  // namespace ssm::cuda
