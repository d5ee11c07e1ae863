// CUDA softmax / log_softmax. Rows along the last dim (K == 1): a warp per row (8 rows per block)
// for short rows, a block per row for long ones; three passes over the row (max, sum of exp,
// output), the row staying in L1/L2 between them. K > 1: a thread per (a, k) walking C with
// stride K, neighbouring threads on neighbouring k (coalesced). Values in the compute type,
// sums in double, as the CPU.
#include <cuda_runtime.h>

#include <cmath>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/softmax_cuda.h"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;

struct MaxOp {
  template <class V>
  __device__ V operator()(V a, V b) const {
    return b > a ? b : a;
  }
};
struct SumOp {
  template <class V>
  __device__ V operator()(V a, V b) const {
    return a + b;
  }
};

// Every thread of a group of G (32 or 256 = the block) gets op over the group's values.
template <int G, class V, class Op>
__device__ __forceinline__ V group_all(V v, Op op, V* smem) {
#pragma unroll
  for (int w = 16; w > 0; w /= 2) v = op(v, __shfl_xor_sync(0xffffffffu, v, w));
  if constexpr (G == 32) {
    return v;
  } else {
    int warp = threadIdx.x / 32;
    if (threadIdx.x % 32 == 0) smem[warp] = v;
    __syncthreads();
    V r = smem[0];
    for (int k = 1; k < G / 32; ++k) r = op(r, smem[k]);
    __syncthreads();
    return r;
  }
}

// G threads per row; blockDim.x = 256, rows per block = 256 / G.
template <class T, bool Log, int G>
__global__ void __launch_bounds__(kThreads)
    rows_forward(int64_t A, int64_t C, const T* __restrict__ x, T* __restrict__ y) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  __shared__ Acc sm_max[8];
  __shared__ double sm_sum[8];
  int lane = threadIdx.x % G;
  int64_t a = int64_t(blockIdx.x) * (kThreads / G) + threadIdx.x / G;
  bool live = a < A;  // (G == 256: the whole block agrees)
  if (G == 32 && !live) return;
  const T* xr = x + (live ? a : 0) * C;
  T* yr = y + (live ? a : 0) * C;
  Acc m = -INFINITY;
  for (int64_t c = lane; c < C; c += G) {
    Acc v = S::load(xr[c]);
    m = v > m ? v : m;
  }
  m = group_all<G>(m, MaxOp{}, sm_max);
  double sum = 0;
  for (int64_t c = lane; c < C; c += G) sum += double(std::exp(S::load(xr[c]) - m));
  sum = group_all<G>(sum, SumOp{}, sm_sum);
  if (!live) return;
  if constexpr (Log) {
    Acc ls = Acc(std::log(sum));
    for (int64_t c = lane; c < C; c += G) yr[c] = S::store((S::load(xr[c]) - m) - ls);
  } else {
    Acc inv = Acc(1.0 / sum);
    for (int64_t c = lane; c < C; c += G) yr[c] = S::store(std::exp(S::load(xr[c]) - m) * inv);
  }
}

template <class T, bool Log, int G>
__global__ void __launch_bounds__(kThreads)
    rows_backward(int64_t A, int64_t C, const T* __restrict__ y, const T* __restrict__ g,
                  T* __restrict__ dx) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  __shared__ double sm_sum[8];
  int lane = threadIdx.x % G;
  int64_t a = int64_t(blockIdx.x) * (kThreads / G) + threadIdx.x / G;
  bool live = a < A;
  if (G == 32 && !live) return;
  int64_t base = (live ? a : 0) * C;
  double dot = 0;
  for (int64_t c = lane; c < C; c += G) {
    Acc yv = S::load(y[base + c]), gv = S::load(g[base + c]);
    dot += double(Log ? gv : gv * yv);
  }
  dot = group_all<G>(dot, SumOp{}, sm_sum);
  if (!live) return;
  Acc d = Acc(dot);
  for (int64_t c = lane; c < C; c += G) {
    Acc yv = S::load(y[base + c]), gv = S::load(g[base + c]);
    dx[base + c] = S::store(Log ? gv - std::exp(yv) * d : yv * (gv - d));
  }
}

template <class T, bool Log>
__global__ void cols_forward(int64_t A, int64_t C, int64_t K, const T* __restrict__ x,
                             T* __restrict__ y) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= A * K) return;
  int64_t a = t / K, k = t - a * K;
  const T* xb = x + a * C * K + k;
  T* yb = y + a * C * K + k;
  Acc m = -INFINITY;
  for (int64_t c = 0; c < C; ++c) {
    Acc v = S::load(xb[c * K]);
    m = v > m ? v : m;
  }
  double sum = 0;
  for (int64_t c = 0; c < C; ++c) sum += double(std::exp(S::load(xb[c * K]) - m));
  Acc post = Log ? Acc(std::log(sum)) : Acc(1.0 / sum);
  for (int64_t c = 0; c < C; ++c) {
    Acc v = S::load(xb[c * K]) - m;
    yb[c * K] = S::store(Log ? v - post : std::exp(v) * post);
  }
}

template <class T, bool Log>
__global__ void cols_backward(int64_t A, int64_t C, int64_t K, const T* __restrict__ y,
                              const T* __restrict__ g, T* __restrict__ dx) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= A * K) return;
  int64_t a = t / K, k = t - a * K;
  int64_t base = a * C * K + k;
  double dot = 0;
  for (int64_t c = 0; c < C; ++c) {
    Acc yv = S::load(y[base + c * K]), gv = S::load(g[base + c * K]);
    dot += double(Log ? gv : gv * yv);
  }
  Acc d = Acc(dot);
  for (int64_t c = 0; c < C; ++c) {
    int64_t i = base + c * K;
    Acc yv = S::load(y[i]), gv = S::load(g[i]);
    dx[i] = S::store(Log ? gv - std::exp(yv) * d : yv * (gv - d));
  }
}

unsigned blocks(int64_t n, int per_block) { return unsigned((n + per_block - 1) / per_block); }

template <class T, bool Log>
void forward(int64_t A, int64_t C, int64_t K, const void* xp, void* yp) {
  const T* x = static_cast<const T*>(xp);
  T* y = static_cast<T*>(yp);
  if (K == 1) {
    if (C >= 1024)
      rows_forward<T, Log, 256><<<blocks(A, 1), kThreads, 0, ::ssm::cuda::stream()>>>(A, C, x, y);
    else
      rows_forward<T, Log, 32><<<blocks(A, kThreads / 32), kThreads, 0, ::ssm::cuda::stream()>>>(A, C, x, y);
  } else {
    cols_forward<T, Log><<<blocks(A * K, kThreads), kThreads, 0, ::ssm::cuda::stream()>>>(A, C, K, x, y);
  }
  check_launch(Log ? "log_softmax" : "softmax");
}

template <class T, bool Log>
void backward(int64_t A, int64_t C, int64_t K, const void* yp, const void* gp, void* dp) {
  const T* y = static_cast<const T*>(yp);
  const T* g = static_cast<const T*>(gp);
  T* dx = static_cast<T*>(dp);
  if (K == 1) {
    if (C >= 1024)
      rows_backward<T, Log, 256><<<blocks(A, 1), kThreads, 0, ::ssm::cuda::stream()>>>(A, C, y, g, dx);
    else
      rows_backward<T, Log, 32><<<blocks(A, kThreads / 32), kThreads, 0, ::ssm::cuda::stream()>>>(A, C, y, g, dx);
  } else {
    cols_backward<T, Log><<<blocks(A * K, kThreads), kThreads, 0, ::ssm::cuda::stream()>>>(A, C, K, y, g, dx);
  }
  check_launch(Log ? "log_softmax backward" : "softmax backward");
}

}  // namespace

void softmax_forward(bool log, DType dtype, int64_t A, int64_t C, int64_t K, const void* x, void* y) {
  if (A * C * K == 0) return;
  SSM_DISPATCH_FLOAT(dtype, "softmax", [&] {
    if (log)
      forward<scalar_t, true>(A, C, K, x, y);
    else
      forward<scalar_t, false>(A, C, K, x, y);
  });
}

void softmax_backward(bool log, DType dtype, int64_t A, int64_t C, int64_t K, const void* y,
                      const void* g, void* dx) {
  if (A * C * K == 0) return;
  SSM_DISPATCH_FLOAT(dtype, "softmax", [&] {
    if (log)
      backward<scalar_t, true>(A, C, K, y, g, dx);
    else
      backward<scalar_t, false>(A, C, K, y, g, dx);
  });
}

}  // namespace ssm::cuda
