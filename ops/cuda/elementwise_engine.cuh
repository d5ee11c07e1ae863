// The CUDA elementwise engine: out[i] = f(in0[i], in1[i], ...) over a broadcast shape.
//
// Operands are cuda::Arg over the output's shape (broadcast inputs carry stride 0). Values are
// loaded into the compute type (Scalar<T>::load), f runs there, the result is stored back. When
// every operand is one unit-stride run (after coalescing), each thread moves VEC consecutive
// elements with 16-byte vector loads/stores where the pointers allow; otherwise every element
// computes its operands' offsets from the coalesced sizes and strides (32-bit index maths when
// the element count fits). Included by the .cu files of the ops that use it.
#pragma once

#include <cuda_runtime.h>

#include <utility>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/cuda/strided.h"
#include "core/dtype.h"

namespace ssm::cuda {

namespace ew {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 20;

template <int NIN>
struct Ptrs {
  const void* p[NIN > 0 ? NIN : 1];
};

template <class T, int VEC>
struct alignas(sizeof(T) * VEC) Vec {
  T v[VEC];
};

template <class... T>
constexpr int max_size() {
  int m = 1;
  ((m = int(sizeof(T)) > m ? int(sizeof(T)) : m), ...);
  return m;
}

template <class TOut, class... TIn>
struct Kern {
  static constexpr int NIN = int(sizeof...(TIn));
  static constexpr int N = NIN + 1;
  static constexpr int VEC = 16 / max_size<TOut, TIn...>() > 0 ? 16 / max_size<TOut, TIn...>() : 1;

  template <class F, size_t... I>
  __device__ __forceinline__ static void at(const F& f, TOut* o, const Ptrs<NIN>& p,
                                            const int64_t (&off)[N], std::index_sequence<I...>) {
    o[off[0]] = Scalar<TOut>::store(
        f(Scalar<TIn>::load(static_cast<const TIn*>(p.p[I])[off[I + 1]])...));
  }

  template <class F, size_t... I>
  __device__ __forceinline__ static void flat_at(const F& f, TOut* o, const Ptrs<NIN>& p, int64_t i,
                                                 std::index_sequence<I...>) {
    o[i] = Scalar<TOut>::store(f(Scalar<TIn>::load(static_cast<const TIn*>(p.p[I])[i])...));
  }

  template <class F, size_t... I>
  __device__ __forceinline__ static void vec_at(const F& f, TOut* o, const Ptrs<NIN>& p, int64_t i,
                                                std::index_sequence<I...>) {
    // one 16-byte (or narrower) load per operand, then VEC independent evaluations
    alignas(16) unsigned char buf[NIN > 0 ? NIN : 1][16];
    ((*reinterpret_cast<Vec<TIn, VEC>*>(buf[I]) =
          *reinterpret_cast<const Vec<TIn, VEC>*>(static_cast<const TIn*>(p.p[I]) + i)),
     ...);
    Vec<TOut, VEC> r;
#pragma unroll
    for (int j = 0; j < VEC; ++j)
      r.v[j] = Scalar<TOut>::store(f(Scalar<TIn>::load(reinterpret_cast<const TIn*>(buf[I])[j])...));
    *reinterpret_cast<Vec<TOut, VEC>*>(o + i) = r;
  }
};

template <class F, class TOut, class... TIn>
__global__ void __launch_bounds__(kThreads)
    flat_kernel(int64_t n, TOut* __restrict__ o, Ptrs<int(sizeof...(TIn))> p, F f, bool aligned) {
  using K = Kern<TOut, TIn...>;
  constexpr int VEC = K::VEC;
  auto seq = std::index_sequence_for<TIn...>{};
  int64_t stride = int64_t(gridDim.x) * blockDim.x * VEC;
  for (int64_t i = (int64_t(blockIdx.x) * blockDim.x + threadIdx.x) * VEC; i < n; i += stride) {
    if (aligned && i + VEC <= n) {
      K::vec_at(f, o, p, i, seq);
    } else {
      int64_t e = i + VEC < n ? i + VEC : n;
      for (int64_t j = i; j < e; ++j) K::flat_at(f, o, p, j, seq);
    }
  }
}

template <class I, class F, class TOut, class... TIn>
__global__ void __launch_bounds__(kThreads)
    strided_kernel(Layout<int(sizeof...(TIn)) + 1> L, I n, TOut* __restrict__ o,
                   Ptrs<int(sizeof...(TIn))> p, F f) {
  using K = Kern<TOut, TIn...>;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    int64_t off[K::N];
    offsets_of<I, K::N>(L, i, off);
    K::at(f, o, p, off, std::index_sequence_for<TIn...>{});
  }
}

inline unsigned grid_for(int64_t n, int per_thread) {
  int64_t b = (n + int64_t(kThreads) * per_thread - 1) / (int64_t(kThreads) * per_thread);
  return unsigned(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

}  // namespace ew

// out = f(in...), with out and every in of the problem `dims`; TOut/TIn must match their dtypes
// (the caller dispatched). `what` names the op in launch errors.
template <class TOut, class... TIn, class F>
void elementwise(const Dims& dims, const Arg& out, std::initializer_list<const Arg*> in, const F& f,
                 const char* what) {
  constexpr int NIN = int(sizeof...(TIn));
  constexpr int N = NIN + 1;
  using K = ew::Kern<TOut, TIn...>;
  int64_t n = dims.numel();
  if (n == 0) return;
  const Arg* args[N];
  args[0] = &out;
  int k = 1;
  for (const Arg* a : in) args[k++] = a;
  ew::Ptrs<NIN> p;
  for (int j = 0; j < NIN; ++j) p.p[j] = args[j + 1]->p;
  TOut* o = static_cast<TOut*>(out.p);
  Layout<N> L = coalesce<N>(dims, args);
  if (L.flat()) {
    bool aligned = reinterpret_cast<uintptr_t>(out.p) % (sizeof(TOut) * K::VEC) == 0;
    size_t sizes[] = {sizeof(TIn)...};
    for (int j = 0; j < NIN; ++j)
      aligned = aligned && reinterpret_cast<uintptr_t>(p.p[j]) % (sizes[j] * K::VEC) == 0;
    ew::flat_kernel<F, TOut, TIn...><<<ew::grid_for(n, K::VEC), ew::kThreads, 0, ::ssm::cuda::stream()>>>(n, o, p, f, aligned);
  } else if (n <= INT32_MAX) {
    ew::strided_kernel<uint32_t, F, TOut, TIn...>
        <<<ew::grid_for(n, 1), ew::kThreads, 0, ::ssm::cuda::stream()>>>(L, uint32_t(n), o, p, f);
  } else {
    ew::strided_kernel<int64_t, F, TOut, TIn...><<<ew::grid_for(n, 1), ew::kThreads, 0, ::ssm::cuda::stream()>>>(L, n, o, p, f);
  }
  check_launch(what);
}

}  // namespace ssm::cuda
