// Strided operands for the CUDA launchers of ops/index, join, cumsum, flip, pad and dropout.
//
// A Walk<N> is N operands walked together over one shape: a row-major linear index over the
// shape gives each operand's element offset. The host side builds it with make_walk (size-1 dims
// dropped, contiguous dims merged, as core/strided.h does for the CPU loops); kernels take it by
// value. Plain data, so the .cpp files fill it and the .cu files read it.
#pragma once

#include <array>
#include <cstdint>

#include "core/dtype.h"
#include "core/shape.h"

namespace ssm::cuda {

template <int N>
struct Walk {
  int ndim = 0;
  int64_t numel = 1;
  int64_t size[kMaxDims] = {};
  int64_t stride[N][kMaxDims] = {};

  // Element offsets of linear index i, one per operand.
  SSM_HD void offsets(int64_t i, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      int64_t n = size[d];
      int64_t c = i % n;
      i /= n;
      for (int k = 0; k < N; ++k) off[k] += c * stride[k][d];
    }
  }
};

// Calls f(E{}) with E a plain type of `bytes` bytes: kernels that only move elements.
template <int Bytes>
struct alignas(Bytes < 16 ? Bytes : 16) Bits {
  unsigned char b[Bytes];
};

#ifndef __CUDACC__
template <int N>
Walk<N> make_walk(const Shape& shape, const std::array<Shape, N>& strides) {
  Walk<N> w;
  w.numel = shape.numel();
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (w.ndim > 0) {
      bool merge = true;
      int last = w.ndim - 1;
      for (int k = 0; k < N; ++k)
        if (w.stride[k][last] != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        w.size[last] *= shape[d];
        for (int k = 0; k < N; ++k) w.stride[k][last] = strides[k][d];
        continue;
      }
    }
    w.size[w.ndim] = shape[d];
    for (int k = 0; k < N; ++k) w.stride[k][w.ndim] = strides[k][d];
    ++w.ndim;
  }
  return w;
}
#endif

}  // namespace ssm::cuda
