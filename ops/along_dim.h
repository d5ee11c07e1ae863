// Walking every position of the dims other than one dim `d`, for kernels that then run serially
// along d (cumsum's scans, scatter_add's ordered sums): ops/cumsum.cpp and ops/index.cpp.
//
// Like core/strided.h's for_each_strided, the callback sees runs along the innermost coalesced
// dim, fn(offsets, n, inner_strides); unlike it, threads get chunks sized by `work`, the serial
// work per position (the length of d), so a few long scans still spread over the threads.
// Positions never share a chunk boundary inside fn, so results do not depend on the thread count.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>

#include "core/strided.h"

namespace ssm {

template <int N, class F>
void for_each_position(const Shape& shape, const std::array<Shape, N>& strides, int64_t work,
                       const F& fn) {
  int64_t total = shape.numel();
  if (total == 0) return;
  StridedLayout<N> L = coalesce<N>(shape, strides);
  int last = L.ndim - 1;
  int64_t run = L.ndim > 0 ? L.sizes[last] : 1;
  std::array<int64_t, N> inner{};
  if (L.ndim > 0)
    for (int k = 0; k < N; ++k) inner[k] = L.strides[k][last];
  int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(work, 1));
  parallel_for(0, total, grain, [&](int64_t b, int64_t e) {
    int64_t idx[kMaxDims] = {};
    int64_t rem = b;
    for (int d = last; d >= 0; --d) {
      idx[d] = rem % L.sizes[d];
      rem /= L.sizes[d];
    }
    std::array<int64_t, N> off{};
    for (int k = 0; k < N; ++k)
      for (int d = 0; d <= last; ++d) off[k] += idx[d] * L.strides[k][d];
    for (int64_t p = b; p < e;) {
      int64_t start = L.ndim > 0 ? idx[last] : 0;
      int64_t n = std::min(run - start, e - p);
      fn(off, n, inner);
      p += n;
      if (L.ndim == 0) break;
      // Step past the run; carry into the outer dims like an odometer.
      idx[last] += n;
      for (int k = 0; k < N; ++k) off[k] += n * inner[k];
      for (int d = last; d > 0 && idx[d] == L.sizes[d]; --d) {
        for (int k = 0; k < N; ++k) off[k] += L.strides[k][d - 1] - L.sizes[d] * L.strides[k][d];
        idx[d] = 0;
        ++idx[d - 1];
      }
    }
  });
}

}  // namespace ssm
