// The CPU elementwise engine: out[i] = f(in0[i], in1[i], ...) over a broadcast shape.
//
// Inputs are broadcast views of the output's shape (stride 0 on broadcast dims). Values are
// loaded into the compute type (float for bf16/f16/f32, double for f64), f runs there, and the
// result is stored back. When every operand is contiguous the loop is one flat pass the compiler
// can vectorise; otherwise core/strided.h walks the coalesced layout.
#pragma once

#include <array>
#include <tuple>
#include <utility>

#include "core/strided.h"
#include "core/tensor.h"

namespace ssm {

// A view of `t` broadcast to `shape` (no copy, no autograd).
Tensor broadcast_view(const Tensor& t, const Shape& shape);

template <class TOut, class... TIn, class F>
void elementwise_cpu(const Tensor& out, const F& f, const std::array<Tensor, sizeof...(TIn)>& in) {
  constexpr int N = 1 + int(sizeof...(TIn));
  std::array<Tensor, sizeof...(TIn)> b;
  for (size_t k = 0; k < in.size(); ++k) b[k] = broadcast_view(in[k], out.shape());
  TOut* o = static_cast<TOut*>(out.raw_data());
  std::array<const void*, sizeof...(TIn)> p;
  for (size_t k = 0; k < b.size(); ++k) p[k] = b[k].raw_data();

  auto call = [&]<size_t... I>(std::index_sequence<I...>, const std::array<int64_t, N>& off,
                               int64_t i, const std::array<int64_t, N>& st) {
    o[off[0] + i * st[0]] = Scalar<TOut>::store(
        f(Scalar<TIn>::load(static_cast<const TIn*>(p[I])[off[I + 1] + i * st[I + 1]])...));
  };
  bool flat = out.is_contiguous();
  for (auto& t : b) flat = flat && t.is_contiguous();
  if (flat) {
    parallel_for(0, out.numel(), kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      auto run = [&]<size_t... I>(std::index_sequence<I...>) {
        TOut* __restrict__ op = o;
        std::tuple<const TIn*...> ptr{static_cast<const TIn*>(p[I])...};
        for (int64_t i = lo; i < hi; ++i)
          op[i] = Scalar<TOut>::store(f(Scalar<TIn>::load(std::get<I>(ptr)[i])...));
      };
      run(std::index_sequence_for<TIn...>{});
    });
    return;
  }
  std::array<Shape, N> strides;
  strides[0] = out.strides();
  for (size_t k = 0; k < b.size(); ++k) strides[k + 1] = b[k].strides();
  for_each_strided<N>(out.shape(), strides,
                      [&](const std::array<int64_t, N>& off, int64_t n,
                          const std::array<int64_t, N>& st) {
                        for (int64_t i = 0; i < n; ++i)
                          call(std::index_sequence_for<TIn...>{}, off, i, st);
                      });
}

}  // namespace ssm
