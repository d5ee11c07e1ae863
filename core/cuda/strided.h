// Strided operands for the CUDA kernels: plain structs passed by value to kernels, built on the
// host from tensors (see core/cuda/tensor_arg.h) and coalesced like core/strided.h.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

constexpr int kDims = 8;  // core/shape.h's kMaxDims

// One operand over a problem's dims: first element, dtype, element strides (0: broadcast).
struct Arg {
  void* p = nullptr;
  DType dtype = DType::f32;
  int64_t strides[kDims] = {};
};

// The problem's sizes (row-major), shared by all its operands.
struct Dims {
  int ndim = 0;
  int64_t sizes[kDims] = {};
  int64_t numel() const {
    int64_t n = 1;
    for (int d = 0; d < ndim; ++d) n *= sizes[d];
    return n;
  }
};

// N operands walked together: size-1 dims dropped, dims merged where every operand is laid out
// contiguously relative to the next dim (so a contiguous problem is one flat dim).
template <int N>
struct Layout {
  int ndim = 0;
  int64_t sizes[kDims] = {};
  int64_t strides[N][kDims] = {};

  bool flat() const {  // one unit-stride run for every operand
    if (ndim > 1) return false;
    for (int k = 0; k < N; ++k)
      if (ndim == 1 && strides[k][0] != 1) return false;
    return true;
  }
};

template <int N>
Layout<N> coalesce(const Dims& dims, const Arg* const* args) {
  Layout<N> L;
  for (int d = 0; d < dims.ndim; ++d) {
    int64_t n = dims.sizes[d];
    if (n == 1) continue;
    if (L.ndim > 0) {
      int last = L.ndim - 1;
      bool merge = true;
      for (int k = 0; k < N; ++k)
        if (L.strides[k][last] != args[k]->strides[d] * n) merge = false;
      if (merge) {
        L.sizes[last] *= n;
        for (int k = 0; k < N; ++k) L.strides[k][last] = args[k]->strides[d];
        continue;
      }
    }
    L.sizes[L.ndim] = n;
    for (int k = 0; k < N; ++k) L.strides[k][L.ndim] = args[k]->strides[d];
    ++L.ndim;
  }
  return L;
}

#if defined(__CUDACC__)
// Element offsets of every operand for the row-major linear index i. I: the index type (32-bit
// division is much cheaper; used when the element count fits).
template <class I, int N>
__device__ __forceinline__ void offsets_of(const Layout<N>& L, I i, int64_t (&off)[N]) {
#pragma unroll
  for (int k = 0; k < N; ++k) off[k] = 0;
  for (int d = L.ndim - 1; d >= 0; --d) {
    I s = I(L.sizes[d]);
    I q = i / s;
    I r = i - q * s;
    i = q;
#pragma unroll
    for (int k = 0; k < N; ++k) off[k] += int64_t(r) * L.strides[k][d];
  }
}

// Blocks for n elements, each thread handling `per_thread` of them.
inline unsigned blocks_for(int64_t n, int threads, int per_thread) {
  int64_t b = (n + int64_t(threads) * per_thread - 1) / (int64_t(threads) * per_thread);
  return unsigned(b < 1 ? 1 : b);
}
#endif

}  // namespace ssm::cuda
