// Depthwise causal conv1d on CUDA, channel-last. A thread owns one channel of one batch row over a
// run of kChunk time steps and slides a window of the last W inputs through registers, so each
// input is read about once and a warp reads 32 consecutive channels per step (coalesced for
// channel-last x). The backward walks its run from the end, keeping the last W (pre-activation)
// output gradients in registers; the weight / bias gradients of each run are written as partial
// sums that a second kernel adds in run order, so the results do not depend on scheduling.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/causal_conv1d_cuda.h"
#include "ops/cuda/column_sum.cuh"
#include "ops/cuda/fast_math.cuh"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 128;  // channels per block
constexpr int kChunk = 64;     // time steps per thread (forward)
constexpr int kChunkBwd = 128; // time steps per thread (backward: fewer partial sums)
constexpr int kUnroll = 16;    // loads issued ahead (forward)
constexpr int kThreadsVec = 64;  // forward, 8-byte vectors: threads per block
constexpr int kChunkVec = 32;    // time steps per thread
constexpr int kUnrollVec = 8;    // vector loads issued ahead
constexpr int kUnrollBwd = 8;  // loads issued ahead (backward: x and g)

template <class A>
__device__ __forceinline__ A sigmoid(A z) {
  return A(1) / (A(1) + exp(-z));
}
__device__ __forceinline__ float sigmoid(float z) { return sigmoid_fast(z); }

// Packed sequences: pc[b * L + t] = min(W - 1, position of t inside its sequence), from the
// seq_start flags; tap k of output t reads x only when k >= W - 1 - pc (else 0).
__global__ void seq_pos_kernel(const int32_t* flags, int64_t B, int64_t L, int W, uint8_t* pc) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= B * L) return;
  int64_t t = i % L;
  int q = 0;
  while (q < W - 1 && t - q > 0 && flags[i - q] == 0) ++q;
  pc[i] = uint8_t(q);
}

// Varlen: packed sequences (pc non-null). A template parameter, not a test of pc, so the plain
// path carries no per-step checks in its inner loops.
template <class T, int W, bool Varlen>
__global__ void __launch_bounds__(kThreads) forward_kernel(ConvProblem p, T* y, const uint8_t* pc) {
  using A = acc_t<T>;
  int64_t d = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (d >= p.D) return;
  int64_t t0 = int64_t(blockIdx.y) * kChunk, b = blockIdx.z;
  int64_t t1 = min(p.L, t0 + kChunk);
  const T* x = static_cast<const T*>(p.x) + b * p.sx[0] + d * p.sx[2];
  const T* w = static_cast<const T*>(p.w) + d * p.sw[0];
  A wk[W], win[W];
#pragma unroll
  for (int k = 0; k < W; ++k) wk[k] = ld_t<T>(w, k * p.sw[1]);
  A bias = p.bias ? ld_t<T>(static_cast<const T*>(p.bias), d * p.sb) : A(0);
  // win[k] = x[t - (W - 1) + k]; before the loop, times t0 - (W - 1) .. t0 - 1
#pragma unroll
  for (int k = 0; k < W - 1; ++k) {
    int64_t s = t0 - (W - 1) + k;
    win[k + 1] = s >= 0 ? ld_t<T>(x, s * p.sx[1]) : A(0);
  }
  T* yr = y + (b * p.L) * p.D + d;
  const uint8_t* pcr = Varlen ? pc + b * p.L : nullptr;
  // kUnroll loads are issued before the steps that use them: enough bytes in flight per thread
  // to cover the memory latency with one channel per thread.
  for (int64_t tb = t0; tb < t1; tb += kUnroll) {
    A xs[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) xs[u] = tb + u < t1 ? ld_t<T>(x, (tb + u) * p.sx[1]) : A(0);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < W - 1; ++k) win[k] = win[k + 1];
      win[W - 1] = xs[u];
      A acc = bias;
      if constexpr (Varlen) {
        const int lo = W - 1 - (tb + u < t1 ? int(pcr[tb + u]) : W - 1);
#pragma unroll
        for (int k = 0; k < W; ++k) acc += wk[k] * (k >= lo ? win[k] : A(0));
      } else {
#pragma unroll
        for (int k = 0; k < W; ++k) acc += wk[k] * win[k];
      }
      if (p.silu) acc = acc * sigmoid(acc);
      if (tb + u < t1) st_t<T>(yr, (tb + u) * p.D, acc);
    }
  }
}

// The forward with one 8-byte load and store per step for 8 / sizeof(T) consecutive channels
// (x channel-contiguous, D and the strides multiples of that, 8-byte aligned): fewer, wider
// memory instructions and more bytes in flight per thread. (16-byte vectors, 8 bf16 channels a
// thread, took 128 registers: 0.044 ms per call in a Mamba-130M training step on an H200.) Up to
// width 4, 64 registers (16 blocks of 64 threads per SM; bf16 spills 8 bytes, 60 with packed
// sequences); wider windows get 128.
template <class T, int W, bool Varlen>
__global__ void __launch_bounds__(kThreadsVec, W <= 4 ? 16 : 8) forward_vec_kernel(ConvProblem p, T* y,
                                                                  const uint8_t* pc) {
  using A = acc_t<T>;
  constexpr int V = 8 / sizeof(T);
  union Pack {
    uint2 u;
    T e[V];
  };
  int64_t d0 = (int64_t(blockIdx.x) * kThreadsVec + threadIdx.x) * V;
  if (d0 >= p.D) return;
  int64_t t0 = int64_t(blockIdx.y) * kChunkVec, b = blockIdx.z;
  int64_t t1 = min(p.L, t0 + kChunkVec);
  const T* x = static_cast<const T*>(p.x) + b * p.sx[0] + d0;
  const T* w = static_cast<const T*>(p.w);
  A wk[V][W], win[V][W], bias[V];
#pragma unroll
  for (int j = 0; j < V; ++j) {
#pragma unroll
    for (int k = 0; k < W; ++k) wk[j][k] = ld_t<T>(w, (d0 + j) * p.sw[0] + k * p.sw[1]);
    bias[j] = p.bias ? ld_t<T>(static_cast<const T*>(p.bias), (d0 + j) * p.sb) : A(0);
  }
#pragma unroll
  for (int k = 0; k < W - 1; ++k) {
    int64_t s = t0 - (W - 1) + k;
    Pack q;
    q.u = s >= 0 ? *reinterpret_cast<const uint2*>(x + s * p.sx[1]) : make_uint2(0, 0);
#pragma unroll
    for (int j = 0; j < V; ++j) win[j][k + 1] = ld_t<T>(q.e, j);
  }
  const uint8_t* pcr = Varlen ? pc + b * p.L : nullptr;
  // Row pointers stepped by the strides (no 64-bit multiply per access); SiLU as a select (a
  // branch on p.silu per step split the unrolled steps into separate blocks).
  const int64_t sx1 = p.sx[1], D = p.D;
  const bool silu = p.silu;
  const T* xq = x + t0 * sx1;
  T* yq = y + (b * p.L + t0) * D + d0;
  for (int64_t tb = t0; tb < t1; tb += kUnrollVec) {
    Pack xs[kUnrollVec];
#pragma unroll
    for (int u = 0; u < kUnrollVec; ++u, xq += sx1)
      xs[u].u = tb + u < t1 ? *reinterpret_cast<const uint2*>(xq) : make_uint2(0, 0);
#pragma unroll
    for (int u = 0; u < kUnrollVec; ++u, yq += D) {
      Pack o;
      [[maybe_unused]] const int lo = Varlen ? W - 1 - (tb + u < t1 ? int(pcr[tb + u]) : W - 1) : 0;
#pragma unroll
      for (int j = 0; j < V; ++j) {
#pragma unroll
        for (int k = 0; k < W - 1; ++k) win[j][k] = win[j][k + 1];
        win[j][W - 1] = ld_t<T>(xs[u].e, j);
        A acc = bias[j];
        if constexpr (Varlen) {
#pragma unroll
          for (int k = 0; k < W; ++k) acc += wk[j][k] * (k >= lo ? win[j][k] : A(0));
        } else {
#pragma unroll
          for (int k = 0; k < W; ++k) acc += wk[j][k] * win[j][k];
        }
        const A sg = sigmoid(acc);
        acc = silu ? acc * sg : acc;
        st_t<T>(o.e, j, acc);
      }
      if (tb + u < t1) *reinterpret_cast<uint2*>(yq) = o.u;
    }
  }
}

// part[(b * nchunk + chunk) * (W + 1) + k][d]: dweight (k < W) and dbias (k = W) over the run.
template <class T, int W, bool Varlen>
__global__ void __launch_bounds__(kThreads) backward_kernel(ConvProblem p, const T* g, T* dx,
                                                            acc_t<T>* part, const uint8_t* pc) {
  using A = acc_t<T>;
  int64_t d = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (d >= p.D) return;
  int64_t chunk = blockIdx.y, b = blockIdx.z;
  int64_t t0 = chunk * kChunkBwd, t1 = min(p.L, t0 + kChunkBwd);
  int64_t thi = min(p.L - 1, t1 + W - 2);  // the last time whose gradient reaches the run
  const T* x = static_cast<const T*>(p.x) + b * p.sx[0] + d * p.sx[2];
  const T* w = static_cast<const T*>(p.w) + d * p.sw[0];
  const T* gr = g + (b * p.L) * p.D + d;
  A wk[W], xw[W], dp[W], dwk[W];
  int pw[W];  // with pc: pw[j] = pc at time t + j, alongside dp
  const uint8_t* pcr = Varlen ? pc + b * p.L : nullptr;
#pragma unroll
  for (int k = 0; k < W; ++k) {
    wk[k] = ld_t<T>(w, k * p.sw[1]);
    dp[k] = 0;
    dwk[k] = 0;
    pw[k] = W - 1;
  }
  A bias = p.bias ? ld_t<T>(static_cast<const T*>(p.bias), d * p.sb) : A(0);
  A dbias = 0;
  // xw[k] = x[t - (W - 1) + k] for t = thi + 1 (shifted down before use)
#pragma unroll
  for (int k = 0; k < W; ++k) {
    int64_t s = thi + 1 - (W - 1) + k;
    xw[k] = s >= 0 && s <= thi ? ld_t<T>(x, s * p.sx[1]) : A(0);
  }
  for (int64_t tb = thi; tb >= t0; tb -= kUnrollBwd) {
    A xs[kUnrollBwd], gs[kUnrollBwd];
#pragma unroll
    for (int u = 0; u < kUnrollBwd; ++u) {
      int64_t t = tb - u, s = t - (W - 1);
      xs[u] = t >= t0 && s >= 0 ? ld_t<T>(x, s * p.sx[1]) : A(0);
      gs[u] = t >= t0 ? ld_t<T>(gr, t * p.D) : A(0);
    }
#pragma unroll
    for (int u = 0; u < kUnrollBwd; ++u) {
      int64_t t = tb - u;
      if (t < t0) break;
#pragma unroll
      for (int k = W - 1; k > 0; --k) xw[k] = xw[k - 1];
      xw[0] = xs[u];
      A gp = gs[u];
      // The window as the forward saw it: taps before the sequence's start read 0.
      A xm[W];
      int pct = W - 1;
      if constexpr (Varlen) pct = pcr[t];
#pragma unroll
      for (int k = 0; k < W; ++k) xm[k] = !Varlen || k >= W - 1 - pct ? xw[k] : A(0);
      if (p.silu) {
        A pre = bias;
#pragma unroll
        for (int k = 0; k < W; ++k) pre += wk[k] * xm[k];
        A sg = sigmoid(pre);
        gp *= sg * (A(1) + pre * (A(1) - sg));
      }
#pragma unroll
      for (int k = W - 1; k > 0; --k) {
        dp[k] = dp[k - 1];
        pw[k] = pw[k - 1];
      }
      dp[0] = gp;  // dp[j] = gradient of the pre-activation at time t + j
      pw[0] = pct;
      if (t < t1) {
        A acc = 0;
        if constexpr (Varlen) {  // output t + W - 1 - k reads x[t] only inside one sequence
#pragma unroll
          for (int k = 0; k < W; ++k) acc += wk[k] * (pw[W - 1 - k] >= W - 1 - k ? dp[W - 1 - k] : A(0));
        } else {
#pragma unroll
          for (int k = 0; k < W; ++k) acc += wk[k] * dp[W - 1 - k];
        }
        if (dx) st_t<T>(dx, (b * p.L + t) * p.D + d, acc);
#pragma unroll
        for (int k = 0; k < W; ++k) dwk[k] += gp * xm[k];
        dbias += gp;
      }
    }
  }
  if (part) {
    int64_t nchunk = gridDim.y;
    A* pp = part + ((b * nchunk + chunk) * (W + 1)) * p.D + d;
#pragma unroll
    for (int k = 0; k < W; ++k) pp[k * p.D] = dwk[k];
    pp[W * p.D] = dbias;
  }
}

// The backward for 2 consecutive channels per thread, with one 4-byte (16-bit types) or 8-byte
// (float32) load of x and of g and one store of dx per step (x, g and dx channel-contiguous, D
// and the strides even, aligned to the pair): the scalar kernel's 2-byte loads per lane (bf16)
// left it at ~0.8 TB/s, 0.195 ms at (8, 1536, 2048, 4) on an H200. Two channels rather than four
// (8-byte vectors of bf16, 0.078 ms per call in a Mamba-130M training step, at 128 registers with
// spills and 20% occupancy): the four W-long windows per channel fit in fewer registers, so more
// warps hide the latency (launch bounds: six blocks per SM for 16-bit types up to width 6, 80
// registers with at most 24 bytes of spills; four otherwise). Same arithmetic and order as the scalar kernel, channel by channel;
// runs of kChunkBwdVec steps, walked in groups of kUnrollBwd whose last one may reach below the
// run: those steps load zeros and neither store nor accumulate (a per-step exit had split the
// unrolled steps into separate blocks).
constexpr int kChunkBwdVec = 64;
template <class T>
constexpr bool kBwdVecOk = sizeof(T) < 8;
template <int Bytes>
struct RawOf;
template <>
struct RawOf<4> {
  using type = uint32_t;
  static __device__ __forceinline__ type zero() { return 0u; }
};
template <>
struct RawOf<8> {
  using type = uint2;
  static __device__ __forceinline__ type zero() { return make_uint2(0, 0); }
};
template <class T, int W, bool Varlen>
__global__ void __launch_bounds__(kThreads, sizeof(T) == 2 && W <= 6 ? 6 : 4) backward_vec_kernel(ConvProblem p, const T* g, T* dx,
                                                             acc_t<T>* part, const uint8_t* pc) {
  using A = acc_t<T>;
  constexpr int V = 2;
  using R = RawOf<V * sizeof(T)>;
  union Pack {
    typename R::type u;
    T e[V];
  };
  const int64_t d0 = (int64_t(blockIdx.x) * kThreads + threadIdx.x) * V;
  if (d0 >= p.D) return;
  const int64_t chunk = blockIdx.y, b = blockIdx.z;
  const int64_t t0 = chunk * kChunkBwdVec, t1 = min(p.L, t0 + kChunkBwdVec);
  const int64_t thi = min(p.L - 1, t1 + W - 2);  // the last time whose gradient reaches the run
  const T* x = static_cast<const T*>(p.x) + b * p.sx[0] + d0;
  const T* w = static_cast<const T*>(p.w);
  const T* gr = g + (b * p.L) * p.D + d0;
  A wk[V][W], xw[V][W], dp[V][W], dwk[V][W], bias[V], dbias[V];
  int pw[W];  // with pc: pw[j] = pc at time t + j, alongside dp
  const uint8_t* pcr = Varlen ? pc + b * p.L : nullptr;
#pragma unroll
  for (int j = 0; j < V; ++j) {
#pragma unroll
    for (int k = 0; k < W; ++k) {
      wk[j][k] = ld_t<T>(w, (d0 + j) * p.sw[0] + k * p.sw[1]);
      dp[j][k] = 0;
      dwk[j][k] = 0;
    }
    bias[j] = p.bias ? ld_t<T>(static_cast<const T*>(p.bias), (d0 + j) * p.sb) : A(0);
    dbias[j] = 0;
  }
#pragma unroll
  for (int k = 0; k < W; ++k) pw[k] = W - 1;
  // xw[j][k] = x[t - (W - 1) + k] for t = thi + 1 (shifted down before use)
#pragma unroll
  for (int k = 0; k < W; ++k) {
    const int64_t s = thi + 1 - (W - 1) + k;
    Pack q;
    q.u = s >= 0 && s <= thi ? *reinterpret_cast<const typename R::type*>(x + s * p.sx[1]) : R::zero();
#pragma unroll
    for (int j = 0; j < V; ++j) xw[j][k] = ld_t<T>(q.e, j);
  }
  // Row pointers stepped by the strides (no 64-bit multiply per access); SiLU's derivative and
  // the run test as selects (branches per step split the unrolled steps into separate blocks).
  const int64_t sx1 = p.sx[1], D = p.D;
  const bool silu = p.silu;
  const T* xq = x + (thi - (W - 1)) * sx1;  // x at s = t - (W - 1), t = thi
  const T* gq = gr + thi * D;
  T* dq = dx ? dx + (b * p.L + thi) * D + d0 : nullptr;
  for (int64_t tb = thi; tb >= t0; tb -= kUnrollBwd) {
    Pack xs[kUnrollBwd], gs[kUnrollBwd];
#pragma unroll
    for (int u = 0; u < kUnrollBwd; ++u, xq -= sx1, gq -= D) {
      const int64_t t = tb - u, s = t - (W - 1);
      xs[u].u = t >= t0 && s >= 0 ? *reinterpret_cast<const typename R::type*>(xq) : R::zero();
      gs[u].u = t >= t0 ? *reinterpret_cast<const typename R::type*>(gq) : R::zero();
    }
#pragma unroll
    for (int u = 0; u < kUnrollBwd; ++u, dq -= D) {
      const int64_t t = tb - u;
      const bool in = t >= t0 && t < t1;  // below t0: past the run (the last group only)
      int pct = W - 1;
      if constexpr (Varlen) pct = t >= t0 ? pcr[t] : W - 1;
#pragma unroll
      for (int k = W - 1; k > 0; --k) pw[k] = pw[k - 1];
      pw[0] = pct;
      Pack o;
#pragma unroll
      for (int j = 0; j < V; ++j) {
#pragma unroll
        for (int k = W - 1; k > 0; --k) xw[j][k] = xw[j][k - 1];
        xw[j][0] = ld_t<T>(xs[u].e, j);
        A gp = ld_t<T>(gs[u].e, j);
        // The window as the forward saw it: taps before the sequence's start read 0.
        A xm[W];
#pragma unroll
        for (int k = 0; k < W; ++k) xm[k] = !Varlen || k >= W - 1 - pct ? xw[j][k] : A(0);
        {
          A pre = bias[j];
#pragma unroll
          for (int k = 0; k < W; ++k) pre += wk[j][k] * xm[k];
          const A sg = sigmoid(pre);
          gp *= silu ? sg * (A(1) + pre * (A(1) - sg)) : A(1);
        }
#pragma unroll
        for (int k = W - 1; k > 0; --k) dp[j][k] = dp[j][k - 1];
        dp[j][0] = gp;  // dp[j][i] = gradient of the pre-activation at time t + i
        A acc = 0;
        if constexpr (Varlen) {  // output t + W - 1 - k reads x[t] only inside one sequence
#pragma unroll
          for (int k = 0; k < W; ++k)
            acc += wk[j][k] * (pw[W - 1 - k] >= W - 1 - k ? dp[j][W - 1 - k] : A(0));
        } else {
#pragma unroll
          for (int k = 0; k < W; ++k) acc += wk[j][k] * dp[j][W - 1 - k];
        }
        st_t<T>(o.e, j, acc);
        const A gin = in ? gp : A(0);
#pragma unroll
        for (int k = 0; k < W; ++k) dwk[j][k] += gin * xm[k];
        dbias[j] += gin;
      }
      if (in && dq) *reinterpret_cast<typename R::type*>(dq) = o.u;
    }
  }
  if (part) {
    const int64_t nchunk = gridDim.y;
    A* pp = part + ((b * nchunk + chunk) * (W + 1)) * p.D + d0;
#pragma unroll
    for (int j = 0; j < V; ++j) {
#pragma unroll
      for (int k = 0; k < W; ++k) pp[k * p.D + j] = dwk[j][k];
      pp[W * p.D + j] = dbias[j];
    }
  }
}

// dw, db from the blocks' partials ([nblk][W + 1][D]), summed in a fixed order (column_sum).
template <class T>
__global__ void param_final(const acc_t<T>* part, int64_t nblk, int64_t D, int W, T* dw, T* db) {
  const int64_t M = (W + 1) * D;
  column_sum(part, nblk, M, M, [&](int64_t i, acc_t<T> s) {  // i = k * D + d
    const int64_t k = i / D, d = i % D;
    if (k < W) {
      if (dw) st_t<T>(dw, d * W + k, s);
    } else if (db) {
      st_t<T>(db, d, s);
    }
  });
}

template <class T>
__global__ void step_kernel(ConvProblem p, T* state, const void* x, DType xdt, int64_t xs0,
                            int64_t xs1, void* y, DType ydt) {
  using A = acc_t<T>;
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= p.B * p.D) return;
  int64_t b = i / p.D, d = i % p.D;
  T* s = state + i * p.W;
  for (int64_t k = 0; k + 1 < p.W; ++k) s[k] = s[k + 1];
  A xv = ld_any<A>(x, b * xs0 + d * xs1, xdt);
  st_t<T>(s, p.W - 1, xv);
  A acc = p.bias ? ld_any<A>(p.bias, d * p.sb, p.dtype) : A(0);
  for (int64_t k = 0; k < p.W; ++k) acc += ld_any<A>(p.w, d * p.sw[0] + k * p.sw[1], p.dtype) * ld_t<T>(s, k);
  if (p.silu) acc = acc * sigmoid(acc);
  st_any<A>(y, i, ydt, acc);
}

template <class T, class F>
void with_width(int64_t W, F&& f) {
  switch (W) {
    case 2: f(std::integral_constant<int, 2>()); break;
    case 3: f(std::integral_constant<int, 3>()); break;
    case 4: f(std::integral_constant<int, 4>()); break;
    case 5: f(std::integral_constant<int, 5>()); break;
    case 6: f(std::integral_constant<int, 6>()); break;
    case 7: f(std::integral_constant<int, 7>()); break;
    default: f(std::integral_constant<int, 8>()); break;
  }
}

// f(std::integral_constant<bool, varlen>): the kernels' Varlen parameter from a runtime flag.
template <class F>
void with_varlen(bool varlen, F&& f) {
  if (varlen)
    f(std::true_type());
  else
    f(std::false_type());
}

void check_grid(const ConvProblem& p, const char* op) {
  SSM_CHECK(p.B <= 65535, op, ": batch ", p.B, " exceeds the CUDA grid (65535)");
  SSM_CHECK(p.W >= 2 && p.W <= 8, op, ": kernel width ", p.W, " is not supported (2..8)");
}

}  // namespace

// pc (B * L) from p.seq_start (null without it), from the caching allocator: free with dealloc.
uint8_t* seq_positions(const ConvProblem& p) {
  if (!p.seq_start || p.B * p.L == 0) return nullptr;
  auto* pc = static_cast<uint8_t*>(alloc(size_t(p.B * p.L), p.device));
  int64_t n = p.B * p.L;
  seq_pos_kernel<<<unsigned((n + 255) / 256), 256, 0, ::ssm::cuda::stream()>>>(p.seq_start, p.B, p.L,
                                                                               int(p.W), pc);
  return pc;
}

void causal_conv1d_forward(const ConvProblem& p, void* y) {
  if (p.B * p.L * p.D == 0) return;
  check_grid(p, "causal_conv1d");
  uint8_t* pc = seq_positions(p);
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    constexpr int64_t V = 8 / sizeof(scalar_t);
    bool vec = V > 1 && p.sx[2] == 1 && p.D % V == 0 && p.sx[1] % V == 0 && p.sx[0] % V == 0 &&
               reinterpret_cast<uintptr_t>(p.x) % 8 == 0 && reinterpret_cast<uintptr_t>(y) % 8 == 0;
    if (vec) {
      int64_t nv = p.D / V;
      dim3 grid(unsigned((nv + kThreadsVec - 1) / kThreadsVec),
                unsigned((p.L + kChunkVec - 1) / kChunkVec), unsigned(p.B));
      with_width<scalar_t>(p.W, [&](auto w) {
        with_varlen(pc != nullptr, [&](auto v) {
          forward_vec_kernel<scalar_t, decltype(w)::value, decltype(v)::value>
              <<<grid, kThreadsVec, 0, ::ssm::cuda::stream()>>>(p, static_cast<scalar_t*>(y), pc);
        });
      });
    } else {
      dim3 grid(unsigned((p.D + kThreads - 1) / kThreads), unsigned((p.L + kChunk - 1) / kChunk),
                unsigned(p.B));
      with_width<scalar_t>(p.W, [&](auto w) {
        with_varlen(pc != nullptr, [&](auto v) {
          forward_kernel<scalar_t, decltype(w)::value, decltype(v)::value>
              <<<grid, kThreads, 0, ::ssm::cuda::stream()>>>(p, static_cast<scalar_t*>(y), pc);
        });
      });
    }
  });
  check_launch("causal_conv1d");
  if (pc) dealloc(pc, p.device);
}

void causal_conv1d_backward(const ConvProblem& p, const void* g, void* dx, void* dw, void* db) {
  const char* op = "causal_conv1d backward";
  check_grid(p, op);
  bool params = dw || db;
  uint8_t* pc = seq_positions(p);
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using A = acc_t<scalar_t>;
    // The vector kernel (2 channels per thread) when the dtype and layout allow (kBwdVecOk).
    constexpr int64_t V = 2;
    auto al = [](const void* q) { return reinterpret_cast<uintptr_t>(q) % (V * sizeof(scalar_t)) == 0; };
    const bool vec = kBwdVecOk<scalar_t> && p.sx[2] == 1 && p.D % V == 0 && p.sx[1] % V == 0 &&
                     p.sx[0] % V == 0 && al(p.x) && al(g) && (!dx || al(dx));
    const int64_t run = vec ? kChunkBwdVec : kChunkBwd;
    const int64_t nchunk = (p.L + run - 1) / run, nblk = p.B * nchunk;
    size_t part_n = size_t(std::max<int64_t>(nblk, 1) * (p.W + 1) * p.D);
    A* part = params ? static_cast<A*>(alloc(part_n * sizeof(A), p.device)) : nullptr;
    if (params && nblk == 0) fill_bytes(part, 0, part_n * sizeof(A));
    if (nblk > 0 && p.D > 0 && vec) {
      dim3 grid(unsigned((p.D / V + kThreads - 1) / kThreads), unsigned(nchunk), unsigned(p.B));
      with_width<scalar_t>(p.W, [&](auto w) {
        with_varlen(pc != nullptr, [&](auto v) {
          if constexpr (kBwdVecOk<scalar_t>)
            backward_vec_kernel<scalar_t, decltype(w)::value, decltype(v)::value>
                <<<grid, kThreads, 0, ::ssm::cuda::stream()>>>(
                    p, static_cast<const scalar_t*>(g), static_cast<scalar_t*>(dx), part, pc);
        });
      });
    } else if (nblk > 0 && p.D > 0) {
      dim3 grid(unsigned((p.D + kThreads - 1) / kThreads), unsigned(nchunk), unsigned(p.B));
      with_width<scalar_t>(p.W, [&](auto w) {
        with_varlen(pc != nullptr, [&](auto v) {
          backward_kernel<scalar_t, decltype(w)::value, decltype(v)::value>
              <<<grid, kThreads, 0, ::ssm::cuda::stream()>>>(
                  p, static_cast<const scalar_t*>(g), static_cast<scalar_t*>(dx), part, pc);
        });
      });
    }
    if (params && p.D > 0) {
      int64_t n = (p.W + 1) * p.D;
      param_final<scalar_t><<<unsigned((n + 31) / 32), 32 * kColumnSumWarps, 0,
                              ::ssm::cuda::stream()>>>(part, std::max<int64_t>(nblk, 1), p.D,
                                                       int(p.W), static_cast<scalar_t*>(dw),
                                                       static_cast<scalar_t*>(db));
    }
    check_launch(op);
    if (part) dealloc(part, p.device);
  });
  if (pc) dealloc(pc, p.device);
}

void causal_conv1d_step(const ConvProblem& p, void* state, DType state_dtype, const void* x,
                        DType x_dtype, int64_t xs0, int64_t xs1, void* y, DType y_dtype) {
  int64_t n = p.B * p.D;
  if (n == 0) return;
  SSM_CUDA_DISPATCH_FLOAT(state_dtype, [&] {
    step_kernel<scalar_t><<<unsigned((n + 127) / 128), 128, 0, ::ssm::cuda::stream()>>>(p, static_cast<scalar_t*>(state), x,
                                                              x_dtype, xs0, xs1, y, y_dtype);
  });
  check_launch("causal_conv1d_step");
}

}  // namespace ssm::cuda
