// Walking N strided operands over one shape, for elementwise kernels and copies.
//
// Dims where every operand is laid out contiguously relative to the next dim are merged, size-1
// dims dropped, so a contiguous tensor becomes one flat run. The callback sees runs along the
// innermost dim: fn(offsets, n, inner_strides) with element offsets and strides per operand.
// Work is split across threads over the outer index, by static chunks.
#pragma once

#include <array>
#include <cstdint>

#include "core/parallel.h"
#include "core/shape.h"

namespace ssm {

template <int N>
struct StridedLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

template <int N>
StridedLayout<N> coalesce(const Shape& shape, const std::array<Shape, N>& strides) {
  StridedLayout<N> L;
  for (int d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (L.ndim > 0) {
      bool merge = true;
      int last = L.ndim - 1;
      for (int k = 0; k < N; ++k)
        if (L.strides[k][last] != strides[k][d] * shape[d]) merge = false;
      if (merge) {
        L.sizes[last] *= shape[d];
        for (int k = 0; k < N; ++k) L.strides[k][last] = strides[k][d];
        continue;
      }
    }
    L.sizes[L.ndim] = shape[d];
    for (int k = 0; k < N; ++k) L.strides[k][L.ndim] = strides[k][d];
    ++L.ndim;
  }
  return L;
}

// Elements per thread below which a loop runs serially.
inline constexpr int64_t kElementwiseGrain = 32768;

template <int N, class F>
void for_each_strided(const Shape& shape, const std::array<Shape, N>& strides, const F& fn) {
  if (shape.numel() == 0) return;
  StridedLayout<N> L = coalesce<N>(shape, strides);
  std::array<int64_t, N> inner{};
  int64_t n_inner = 1;
  if (L.ndim > 0) {
    n_inner = L.sizes[L.ndim - 1];
    for (int k = 0; k < N; ++k) inner[k] = L.strides[k][L.ndim - 1];
  }
  int outer_dims = L.ndim > 0 ? L.ndim - 1 : 0;
  int64_t n_outer = 1;
  for (int d = 0; d < outer_dims; ++d) n_outer *= L.sizes[d];

  if (n_outer == 1) {
    // One run: split it across threads directly.
    parallel_for(0, n_inner, kElementwiseGrain, [&](int64_t b, int64_t e) {
      std::array<int64_t, N> off{};
      for (int k = 0; k < N; ++k) off[k] = b * inner[k];
      fn(off, e - b, inner);
    });
    return;
  }
  int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(n_inner, 1));
  parallel_for(0, n_outer, grain, [&](int64_t b, int64_t e) {
    // Decompose b into a multi-index once, then step it like an odometer.
    int64_t idx[kMaxDims] = {};
    int64_t rem = b;
    for (int d = outer_dims - 1; d >= 0; --d) {
      idx[d] = rem % L.sizes[d];
      rem /= L.sizes[d];
    }
    std::array<int64_t, N> off{};
    for (int k = 0; k < N; ++k)
      for (int d = 0; d < outer_dims; ++d) off[k] += idx[d] * L.strides[k][d];
    for (int64_t o = b; o < e; ++o) {
      fn(off, n_inner, inner);
      for (int d = outer_dims - 1; d >= 0; --d) {
        ++idx[d];
        for (int k = 0; k < N; ++k) off[k] += L.strides[k][d];
        if (idx[d] < L.sizes[d]) break;
        for (int k = 0; k < N; ++k) off[k] -= L.strides[k][d] * L.sizes[d];
        idx[d] = 0;
      }
    }
  });
}

}  // namespace ssm
