// layer_norm / rms_norm / add_rms_norm on CUDA: one block per row (statistics by block reduction,
// fp32 for 16-bit inputs), and the weight / bias gradients as per-row-block partial sums followed
// by a second pass that adds the blocks in order, so results are bitwise reproducible.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <type_traits>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/column_sum.cuh"
#include "ops/cuda/norm_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;

// Sum over the block (kThreads threads); every thread gets the result.
template <class A>
__device__ A block_sum(A v, A* sm) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // sm may still be read by a previous call
  if (lane == 0) sm[warp] = v;
  __syncthreads();
  A s = 0;
  for (int k = 0; k < kThreads / 32; ++k) s += sm[k];
  return s;
}

template <class T>
__global__ void forward_kernel(NormProblem p, T* y, acc_t<T>* mean, acc_t<T>* rstd) {
  using A = acc_t<T>;
  __shared__ A sm[kThreads / 32];
  int64_t r = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(r);
  const T* w = static_cast<const T*>(p.w);
  const T* b = static_cast<const T*>(p.b);
  A mu = 0;
  if (!p.rms) {
    A s = 0;
    for (int64_t d = threadIdx.x; d < p.D; d += kThreads) s += ld_t<T>(x, d * p.sd);
    mu = block_sum(s, sm) / A(p.D);
  }
  A s2 = 0;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A v = ld_t<T>(x, d * p.sd) - mu;
    s2 += v * v;
  }
  A var = block_sum(s2, sm) / A(p.D);
  A rs = A(1) / sqrt(var + A(p.eps));
  if (threadIdx.x == 0) {
    if (mean) mean[r] = mu;
    rstd[r] = rs;
  }
  T* yr = y + r * p.D;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A v = (ld_t<T>(x, d * p.sd) - mu) * rs;
    if (w) v *= ld_t<T>(w, d * p.ws);
    if (b) v += ld_t<T>(b, d * p.bs);
    st_t<T>(yr, d, v);
  }
}

// dx = rstd (h - [mean(h)] - xhat mean(h xhat)), h = g w, xhat = (x - mean) rstd.
template <class T>
__global__ void backward_dx_kernel(NormProblem p, const T* g, NdIndex grows, int64_t gsd,
                                   const acc_t<T>* mean, const acc_t<T>* rstd, T* dx) {
  using A = acc_t<T>;
  __shared__ A sm[kThreads / 32];
  int64_t r = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(r);
  const T* gr = g + grows.offset(r);
  const T* w = static_cast<const T*>(p.w);
  A mu = p.rms ? A(0) : mean[r], rs = rstd[r];
  A sh = 0, shx = 0;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A h = ld_t<T>(gr, d * gsd);
    if (w) h *= ld_t<T>(w, d * p.ws);
    sh += h;
    shx += h * (ld_t<T>(x, d * p.sd) - mu) * rs;
  }
  A c1 = p.rms ? A(0) : block_sum(sh, sm) / A(p.D);
  A c2 = block_sum(shx, sm) / A(p.D);
  T* dxr = dx + r * p.D;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A h = ld_t<T>(gr, d * gsd);
    if (w) h *= ld_t<T>(w, d * p.ws);
    A xh = (ld_t<T>(x, d * p.sd) - mu) * rs;
    st_t<T>(dxr, d, rs * (h - c1 - xh * c2));
  }
}

// part[chunk, 0, d] = sum_rows g xhat, part[chunk, 1, d] = sum_rows g over the chunk's rows;
// block (32, 8) covers 32 columns.
template <class T>
__global__ void backward_param_partial(NormProblem p, const T* g, NdIndex grows, int64_t gsd,
                                       const acc_t<T>* mean, const acc_t<T>* rstd, acc_t<T>* part,
                                       int64_t rows_per) {
  using A = acc_t<T>;
  __shared__ A sw[8][33], sb[8][33];
  int64_t d = int64_t(blockIdx.x) * 32 + threadIdx.x;
  int64_t r0 = int64_t(blockIdx.y) * rows_per, r1 = min(p.R, r0 + rows_per);
  A aw = 0, ab = 0;
  if (d < p.D)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const T* x = static_cast<const T*>(p.x) + p.rows.offset(r);
      A gv = ld_t<T>(g + grows.offset(r), d * gsd);
      A mu = p.rms ? A(0) : mean[r];
      aw += gv * (ld_t<T>(x, d * p.sd) - mu) * rstd[r];
      ab += gv;
    }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && d < p.D) {
    for (int k = 1; k < 8; ++k) {
      aw += sw[k][threadIdx.x];
      ab += sb[k][threadIdx.x];
    }
    part[(int64_t(blockIdx.y) * 2) * p.D + d] = aw;
    part[(int64_t(blockIdx.y) * 2 + 1) * p.D + d] = ab;
  }
}

// dw[d], db[d]: the chunks' partial sums ([nchunk][2][D]: 2 D columns) added in a fixed order.
template <class T>
__global__ void backward_param_final(const acc_t<T>* part, int64_t nchunk, int64_t D, T* dw, T* db) {
  column_sum(part, nchunk, 2 * D, 2 * D, [&](int64_t i, acc_t<T> v) {
    if (i < D) {
      if (dw) st_t<T>(dw, i, v);
    } else if (db) {
      st_t<T>(db, i - D, v);
    }
  });
}

// ---- add_rms_norm ---------------------------------------------------------------------------------
// T: x, y, dx, gy; Res: residual, r, dres, gr; W: weight, dweight. Res and W are T or acc_t<T>,
// the compute type.

// v rounded through storage type S, as a store and a load would round it.
template <class S>
__device__ __forceinline__ acc_t<S> round_to(acc_t<S> v) {
  S s;
  st_t<S>(&s, 0, v);
  return ld_t<S>(&s, 0);
}

// One block per row. Pass 1 writes r and sums r (layer norm) and r^2 over r as stored; pass 2
// reads r back (this thread's own writes, from L2) so that y = norm(r) exactly. The layer norm's
// variance is the mean of (r - mean)^2, a third pass over the row.
template <class T, class Res, class W>
__global__ void add_norm_forward_kernel(AddNormProblem p, const T* x, const Res* res, T* y,
                                        Res* r, acc_t<T>* mean, acc_t<T>* rstd) {
  using A = acc_t<T>;
  __shared__ A sm[kThreads / 32];
  int64_t row = blockIdx.x;
  const T* xr = x + row * p.D;
  const Res* resr = res ? res + row * p.D : nullptr;
  Res* rr = r + row * p.D;
  const W* w = static_cast<const W*>(p.w);
  const W* b = static_cast<const W*>(p.b);
  A s1 = 0, s2 = 0;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A v = ld_t<T>(xr, d);
    if (resr) v += ld_t<Res>(resr, d);
    v = round_to<Res>(v);
    st_t<Res>(rr, d, v);
    s1 += v;
    s2 += v * v;
  }
  A mu = 0;
  if (!p.rms) {
    mu = block_sum(s1, sm) / A(p.D);
    s2 = 0;
    for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
      A v = ld_t<Res>(rr, d) - mu;
      s2 += v * v;
    }
  }
  A rs = A(1) / sqrt(block_sum(s2, sm) / A(p.D) + A(p.eps));
  if (threadIdx.x == 0) {
    rstd[row] = rs;
    if (mean) mean[row] = mu;
  }
  T* yr = y + row * p.D;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A v = (ld_t<Res>(rr, d) - mu) * rs;
    if (w) v *= ld_t<W>(w, d);
    if (b) v += ld_t<W>(b, d);
    st_t<T>(yr, d, v);
  }
}

// A block per chunk of `rows_per` consecutive rows; per row, with h = gy w and
// rhat = (r - mean) rstd (mean 0 for the RMSNorm):
//   dr = gr + rstd (h - [mean(h)] - rhat mean(h rhat)), stored as dx and dres,
// the bracket for the layer norm only. Thread t owns the columns t, t + kThreads, ...: it alone
// adds gy rhat for them over the chunk's rows, in row order, into acc (shared memory when a row of
// them fits in 47 KB, else the chunk's row of `part`), so the partial sums need no atomics and do
// not depend on scheduling.
template <class T, class Res, class W>
__global__ void add_norm_backward_kernel(AddNormProblem p, const Res* r, const T* gy,
                                         const Res* gr, const acc_t<T>* mean, const acc_t<T>* rstd,
                                         T* dx, Res* dres, acc_t<T>* part, int64_t rows_per,
                                         bool acc_in_smem) {
  using A = acc_t<T>;
  __shared__ A sm[kThreads / 32];
  extern __shared__ __align__(16) unsigned char dyn_smem[];
  const W* w = static_cast<const W*>(p.w);
  A* acc = nullptr;
  if (part) acc = acc_in_smem ? reinterpret_cast<A*>(dyn_smem) : part + int64_t(blockIdx.x) * p.D;
  if (acc)
    for (int64_t d = threadIdx.x; d < p.D; d += kThreads) acc[d] = 0;
  int64_t r0 = int64_t(blockIdx.x) * rows_per, r1 = min(p.R, r0 + rows_per);
  for (int64_t row = r0; row < r1; ++row) {
    const Res* rr = r + row * p.D;
    const T* gyr = gy + row * p.D;
    A rs = rstd[row], mu = p.rms ? A(0) : mean[row];
    if (dx || dres) {
      A sh = 0, shx = 0;
      for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
        A h = ld_t<T>(gyr, d);
        if (w) h *= ld_t<W>(w, d);
        sh += h;
        shx += h * (ld_t<Res>(rr, d) - mu) * rs;
      }
      A c1 = p.rms ? A(0) : block_sum(sh, sm) / A(p.D);
      A c2 = block_sum(shx, sm) / A(p.D);
      for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
        A h = ld_t<T>(gyr, d);
        if (w) h *= ld_t<W>(w, d);
        A v = rs * (h - c1 - (ld_t<Res>(rr, d) - mu) * rs * c2);
        if (gr) v += ld_t<Res>(gr + row * p.D, d);
        if (dx) st_t<T>(dx + row * p.D, d, v);
        if (dres) st_t<Res>(dres + row * p.D, d, v);
      }
    }
    if (acc)
      for (int64_t d = threadIdx.x; d < p.D; d += kThreads)
        acc[d] += ld_t<T>(gyr, d) * (ld_t<Res>(rr, d) - mu) * rs;
  }
  if (acc && acc_in_smem)
    for (int64_t d = threadIdx.x; d < p.D; d += kThreads) part[int64_t(blockIdx.x) * p.D + d] = acc[d];
}

// dw[d] = sum over chunks k of part[k, d] in a fixed order (column_sum). (One thread per column
// walking all 1024 chunks ran on 3 blocks for d_model 768: 0.114 ms per call, 2.7 ms of a
// Mamba-130M training step on an H200.)
template <class A, class W>
__global__ void add_norm_dweight_kernel(const A* part, int64_t nchunk, int64_t D, W* dw) {
  column_sum(part, nchunk, D, D, [&](int64_t d, A v) { st_t<W>(dw, d, v); });
}

// ---- add_rms_norm, a warp per row ----------------------------------------------------------------
// For D a multiple of 8 up to 32 * 8 * kMaxGroups and 16-byte aligned rows (Mamba's d_model 768 in
// bf16 with a float32 residual stream): lane l holds columns 8 (32 k + l) .. + 7, k < K, in
// registers, loaded and stored as 16-byte vectors; the row's sum is a warp shuffle, with no block
// barrier. The block-per-row kernels above read each row two or three times in scalar loads and
// reached about 1.8 TB/s of an H200's 4.2 (backward) at Mamba-130M's shape.

constexpr int kMaxGroups = 4;  // D <= 1024: the backward keeps 3 K x 8 floats per lane

// 8 consecutive values of a float32 / bf16 / f16 array as float (p 16-byte aligned).
template <class S>
__device__ __forceinline__ void load8(const S* p, float (&v)[8]) {
  if constexpr (std::is_same_v<S, float>) {
    float4 a = reinterpret_cast<const float4*>(p)[0], b = reinterpret_cast<const float4*>(p)[1];
    v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
  } else {
    uint4 q = *reinterpret_cast<const uint4*>(p);
    const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      if constexpr (std::is_same_v<S, bf16>) {
        v[2 * k] = __uint_as_float(w[k] << 16);
        v[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
      } else {
        __half2 h = *reinterpret_cast<const __half2*>(&w[k]);
        float2 f = __half22float2(h);
        v[2 * k] = f.x, v[2 * k + 1] = f.y;
      }
    }
  }
}

// The inverse, rounding to nearest even as st_t does.
template <class S>
__device__ __forceinline__ void store8(S* p, const float (&v)[8]) {
  if constexpr (std::is_same_v<S, float>) {
    reinterpret_cast<float4*>(p)[0] = make_float4(v[0], v[1], v[2], v[3]);
    reinterpret_cast<float4*>(p)[1] = make_float4(v[4], v[5], v[6], v[7]);
  } else {
    uint32_t w[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      if constexpr (std::is_same_v<S, bf16>) {
        __nv_bfloat162 h = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
        w[k] = *reinterpret_cast<uint32_t*>(&h);
      } else {
        __half2 h = __floats2half2_rn(v[2 * k], v[2 * k + 1]);
        w[k] = *reinterpret_cast<uint32_t*>(&h);
      }
    }
    *reinterpret_cast<uint4*>(p) = make_uint4(w[0], w[1], w[2], w[3]);
  }
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kRowWarps = 8;  // rows (warps) per block

// The forward of add_norm_forward_kernel, a warp per row (the layer norm's variance from the row
// in registers, a second sum).
template <class T, class Res, class W, int K>
__global__ void __launch_bounds__(32 * kRowWarps)
    add_norm_forward_warp(AddNormProblem p, const T* x, const Res* res, T* y, Res* r, float* mean,
                          float* rstd) {
  const int lane = threadIdx.x % 32;
  const int64_t row = int64_t(blockIdx.x) * kRowWarps + threadIdx.x / 32;
  if (row >= p.R) return;
  const W* w = static_cast<const W*>(p.w);
  const W* b = static_cast<const W*>(p.b);
  float v[K][8];
  float s1 = 0, s2 = 0;
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int64_t c = 8 * (32 * k + lane);
    if (c >= p.D) continue;
    load8<T>(x + row * p.D + c, v[k]);
    if (res) {
      float q[8];
      load8<Res>(res + row * p.D + c, q);
#pragma unroll
      for (int j = 0; j < 8; ++j) v[k][j] += q[j];
    }
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      v[k][j] = round_to<Res>(v[k][j]);
      s1 += v[k][j];
      s2 += v[k][j] * v[k][j];
    }
    store8<Res>(r + row * p.D + c, v[k]);
  }
  float mu = 0;
  if (!p.rms) {
    mu = warp_sum(s1) / float(p.D);
    s2 = 0;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      if (8 * (32 * k + lane) >= p.D) continue;
#pragma unroll
      for (int j = 0; j < 8; ++j) s2 += (v[k][j] - mu) * (v[k][j] - mu);
    }
  }
  const float rs = 1.0f / sqrtf(warp_sum(s2) / float(p.D) + float(p.eps));
  if (lane == 0) {
    rstd[row] = rs;
    if (mean) mean[row] = mu;
  }
#pragma unroll
  for (int k = 0; k < K; ++k) {
    const int64_t c = 8 * (32 * k + lane);
    if (c >= p.D) continue;
    float wv[8], bv[8];
    if (w) load8<W>(w + c, wv);
    if (b) load8<W>(b + c, bv);
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      float o = w ? (v[k][j] - mu) * rs * wv[j] : (v[k][j] - mu) * rs;
      v[k][j] = b ? o + bv[j] : o;
    }
    store8<T>(y + row * p.D + c, v[k]);
  }
}

// The backward of add_norm_backward_kernel, a warp per row: block b takes rows b rows_per ..,
// warp i of them the rows i, i + kRowWarps, ...; each lane adds gy rhat for its columns over its
// rows into the warp's own row of shared memory (in registers they pushed K = 4 into spills), and
// the warps' sums are added in warp order into row b of `part` (then add_norm_dweight_kernel), so
// the sums do not depend on scheduling.
template <class T, class Res, class W, int K>
__global__ void __launch_bounds__(32 * kRowWarps, 2)
    add_norm_backward_warp(AddNormProblem p, const Res* r, const T* gy, const Res* gr,
                           const float* mean, const float* rstd, T* dx, Res* dres, float* part,
                           int64_t rows_per) {
  __shared__ __align__(16) float acc_sm[kRowWarps][32 * 8 * K];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const W* w = static_cast<const W*>(p.w);
  float* acc = acc_sm[warp];
  if (part)
    for (int i = lane; i < 32 * 8 * K; i += 32) acc[i] = 0;
  __syncwarp();
  const int64_t r0 = int64_t(blockIdx.x) * rows_per, r1 = min(p.R, r0 + rows_per);
  for (int64_t row = r0 + warp; row < r1; row += kRowWarps) {
    const float rs = rstd[row], mu = p.rms ? 0.0f : mean[row];
    // Every load of the row (gr too) before the sums that the outputs wait for; the weight is
    // re-read per row from L1 rather than held (fewer registers, more warps per SM). rv holds
    // r - mean.
    float g[K][8], rv[K][8], q[K][8];
    float sh = 0, shx = 0;
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t c = 8 * (32 * k + lane);
      if (c >= p.D) continue;
      load8<T>(gy + row * p.D + c, g[k]);
      load8<Res>(r + row * p.D + c, rv[k]);
      if (gr) load8<Res>(gr + row * p.D + c, q[k]);
    }
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t c = 8 * (32 * k + lane);
      if (c >= p.D) continue;
      float wv[8];
      if (w) load8<W>(w + c, wv);
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        rv[k][j] -= mu;
        if (w) g[k][j] *= wv[j];  // h = gy w; acc below takes gy itself, so it is kept apart
        sh += g[k][j];
        shx += g[k][j] * rv[k][j] * rs;
      }
      if (!part) continue;
      if (w) load8<T>(gy + row * p.D + c, wv);  // gy again (L1) for the weight gradient
      float a[8];
      load8<float>(acc + c, a);
#pragma unroll
      for (int j = 0; j < 8; ++j) a[j] += (w ? wv[j] : g[k][j]) * rv[k][j] * rs;
      store8<float>(acc + c, a);
    }
    const float c1 = p.rms ? 0.0f : warp_sum(sh) / float(p.D);
    const float c2 = warp_sum(shx) / float(p.D);
#pragma unroll
    for (int k = 0; k < K; ++k) {
      const int64_t c = 8 * (32 * k + lane);
      if (c >= p.D) continue;
      float o[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        o[j] = rs * (g[k][j] - c1 - rv[k][j] * rs * c2);
        if (gr) o[j] += q[k][j];
      }
      if (dx) store8<T>(dx + row * p.D + c, o);
      if (dres) store8<Res>(dres + row * p.D + c, o);
    }
  }
  if (!part) return;
  __syncthreads();
  for (int64_t c = threadIdx.x; c < p.D; c += 32 * kRowWarps) {
    float s = acc_sm[0][c];
    for (int i = 1; i < kRowWarps; ++i) s += acc_sm[i][c];
    part[int64_t(blockIdx.x) * p.D + c] = s;
  }
}

// Whether the warp-per-row kernels take a problem: float32 / bf16 / f16, D a multiple of 8 up to
// 32 * 8 * kMaxGroups, every row pointer 16-byte aligned.
bool warp_rows_ok(const AddNormProblem& p, std::initializer_list<const void*> ptrs) {
  if (p.dtype == DType::f64 || p.D % 8 != 0 || p.D > 32 * 8 * kMaxGroups) return false;
  for (const void* q : ptrs)
    if (reinterpret_cast<uintptr_t>(q) % 16 != 0) return false;
  return true;
}

// Calls f(std::integral_constant<int, K>{}) with K = ceil(D / 256) (1 .. kMaxGroups).
template <class F>
void with_groups(int64_t D, F&& f) {
  switch ((D + 255) / 256) {
    case 1: f(std::integral_constant<int, 1>{}); break;
    case 2: f(std::integral_constant<int, 2>{}); break;
    case 3: f(std::integral_constant<int, 3>{}); break;
    default: f(std::integral_constant<int, 4>{}); break;
  }
}

// Calls f(std::type_identity<Res>{}, std::type_identity<W>{}) with Res, W each T or acc_t<T> as
// rdt and wdt say.
template <class T, class F>
void with_wide_types(DType rdt, DType wdt, F&& f) {
  using A = acc_t<T>;
  bool rt = rdt == dtype_of<T>(), wt = wdt == dtype_of<T>();
  if (rt && wt) f(std::type_identity<T>{}, std::type_identity<T>{});
  else if (rt) f(std::type_identity<T>{}, std::type_identity<A>{});
  else if (wt) f(std::type_identity<A>{}, std::type_identity<T>{});
  else f(std::type_identity<A>{}, std::type_identity<A>{});
}
}  // namespace

void norm_forward(const NormProblem& p, void* y, void* mean, void* rstd) {
  if (p.R == 0) return;
  SSM_CHECK(p.R <= INT32_MAX, p.rms ? "rms_norm" : "layer_norm", ": ", p.R, " rows exceed the CUDA grid");
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using A = acc_t<scalar_t>;
    forward_kernel<scalar_t><<<unsigned(p.R), kThreads, 0, ::ssm::cuda::stream()>>>(p, static_cast<scalar_t*>(y),
                                                           static_cast<A*>(mean), static_cast<A*>(rstd));
  });
  check_launch(p.rms ? "rms_norm" : "layer_norm");
}

void norm_backward(const NormProblem& p, const void* g, const NdIndex& grows, int64_t gsd,
                   const void* mean, const void* rstd, void* dx, void* dw, void* db) {
  const char* op = p.rms ? "rms_norm backward" : "layer_norm backward";
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using A = acc_t<scalar_t>;
    const scalar_t* gp = static_cast<const scalar_t*>(g);
    const A* mp = static_cast<const A*>(mean);
    const A* rp = static_cast<const A*>(rstd);
    if (dx && p.R > 0)
      backward_dx_kernel<scalar_t><<<unsigned(p.R), kThreads, 0, ::ssm::cuda::stream()>>>(p, gp, grows, gsd, mp, rp,
                                                               static_cast<scalar_t*>(dx));
    if ((dw || db) && p.D > 0) {
      // Row blocks depend only on R.
      int64_t nchunk = p.R == 0 ? 1 : std::min<int64_t>((p.R + 31) / 32, 512);
      int64_t rows_per = p.R == 0 ? 1 : (p.R + nchunk - 1) / nchunk;
      nchunk = p.R == 0 ? 1 : (p.R + rows_per - 1) / rows_per;
      A* part = static_cast<A*>(alloc(size_t(nchunk * 2 * p.D) * sizeof(A), p.device));
      dim3 grid(unsigned((p.D + 31) / 32), unsigned(nchunk));
      if (p.R > 0)
        backward_param_partial<scalar_t><<<grid, dim3(32, 8), 0, ::ssm::cuda::stream()>>>(p, gp, grows, gsd, mp, rp, part,
                                                                rows_per);
      else
        fill_bytes(part, 0, size_t(nchunk * 2 * p.D) * sizeof(A));
      backward_param_final<scalar_t><<<unsigned((2 * p.D + 31) / 32), 32 * kColumnSumWarps, 0,
                                       ::ssm::cuda::stream()>>>(
          part, nchunk, p.D, static_cast<scalar_t*>(dw), static_cast<scalar_t*>(db));
      check_launch(op);
      dealloc(part, p.device);
    }
  });
  check_launch(op);
}

void add_norm_forward(const AddNormProblem& p, const void* x, const void* residual, void* y,
                      void* r, void* mean, void* rstd) {
  const char* op = p.rms ? "add_rms_norm" : "add_layer_norm";
  if (p.R == 0) return;
  SSM_CHECK(p.R <= INT32_MAX, op, ": ", p.R, " rows exceed the CUDA grid");
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using T = scalar_t;
    with_wide_types<T>(p.rdtype, p.wdtype, [&]<class Res, class W>(std::type_identity<Res>,
                                                                  std::type_identity<W>) {
      if constexpr (!std::is_same_v<T, double>) {
        if (warp_rows_ok(p, {x, residual, y, r, p.w, p.b})) {
          with_groups(p.D, [&](auto kc) {
            constexpr int K = decltype(kc)::value;
            add_norm_forward_warp<T, Res, W, K>
                <<<unsigned((p.R + kRowWarps - 1) / kRowWarps), 32 * kRowWarps, 0,
                   ::ssm::cuda::stream()>>>(p, static_cast<const T*>(x),
                                            static_cast<const Res*>(residual), static_cast<T*>(y),
                                            static_cast<Res*>(r), static_cast<float*>(mean),
                                            static_cast<float*>(rstd));
          });
          return;
        }
      }
      add_norm_forward_kernel<T, Res, W><<<unsigned(p.R), kThreads, 0, ::ssm::cuda::stream()>>>(
          p, static_cast<const T*>(x), static_cast<const Res*>(residual), static_cast<T*>(y),
          static_cast<Res*>(r), static_cast<acc_t<T>*>(mean), static_cast<acc_t<T>*>(rstd));
    });
  });
  check_launch(op);
}

void add_norm_backward(const AddNormProblem& p, const void* r, const void* gy, const void* gr,
                       const void* mean, const void* rstd, void* dx, void* dres, void* dw) {
  const char* op = p.rms ? "add_rms_norm backward" : "add_layer_norm backward";
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    with_wide_types<T>(p.rdtype, p.wdtype, [&]<class Res, class W>(std::type_identity<Res>,
                                                                  std::type_identity<W>) {
      if (dw && p.R == 0) {  // no rows: a zero gradient
        fill_bytes(dw, 0, size_t(p.D) * sizeof(W));
        return;
      }
      if (p.R == 0 || (!dx && !dres && !dw)) return;
      if constexpr (!std::is_same_v<T, double>) {
        if (warp_rows_ok(p, {r, gy, gr, dx, dres, p.w})) {
          // Blocks of kRowWarps warps, up to 512 of them (4 rows a warp at Mamba-130M's 16384
          // rows); the chunks depend only on R, so do the sums.
          int64_t nchunk = std::min<int64_t>((p.R + kRowWarps - 1) / kRowWarps, 512);
          int64_t rows_per = (p.R + nchunk - 1) / nchunk;
          nchunk = (p.R + rows_per - 1) / rows_per;
          float* part = dw ? static_cast<float*>(alloc(size_t(nchunk * p.D) * sizeof(float), p.device))
                           : nullptr;
          with_groups(p.D, [&](auto kc) {
            constexpr int K = decltype(kc)::value;
            add_norm_backward_warp<T, Res, W, K>
                <<<unsigned(nchunk), 32 * kRowWarps, 0, ::ssm::cuda::stream()>>>(
                    p, static_cast<const Res*>(r), static_cast<const T*>(gy),
                    static_cast<const Res*>(gr), static_cast<const float*>(mean),
                    static_cast<const float*>(rstd), static_cast<T*>(dx), static_cast<Res*>(dres),
                    part, rows_per);
          });
          if (dw) {
            add_norm_dweight_kernel<float, W><<<unsigned((p.D + 31) / 32), 32 * kColumnSumWarps, 0,
                                               ::ssm::cuda::stream()>>>(part, nchunk, p.D,
                                                                        static_cast<W*>(dw));
            check_launch(op);
            dealloc(part, p.device);
          }
          return;
        }
      }
      // Chunks of rows depend only on R (so do the sums); up to 1024 chunks fill an H100/H200
      // (about 8 blocks of 256 threads per SM) while each chunk still spans several rows.
      int64_t nchunk = std::min<int64_t>(p.R, 1024);
      int64_t rows_per = (p.R + nchunk - 1) / nchunk;
      nchunk = (p.R + rows_per - 1) / rows_per;
      A* part = dw ? static_cast<A*>(alloc(size_t(nchunk * p.D) * sizeof(A), p.device)) : nullptr;
      // The accumulators go to shared memory when they fit, with the static block_sum scratch,
      // in the 48 KB a block gets without an opt-in.
      size_t smem = size_t(p.D) * sizeof(A);
      bool in_smem = dw && smem <= 47 * 1024;
      add_norm_backward_kernel<T, Res, W>
          <<<unsigned(nchunk), kThreads, in_smem ? smem : 0, ::ssm::cuda::stream()>>>(
              p, static_cast<const Res*>(r), static_cast<const T*>(gy),
              static_cast<const Res*>(gr), static_cast<const A*>(mean), static_cast<const A*>(rstd),
              static_cast<T*>(dx), static_cast<Res*>(dres), part, rows_per, in_smem);
      if (dw) {
        add_norm_dweight_kernel<A, W><<<unsigned((p.D + 31) / 32), 32 * kColumnSumWarps, 0,
                                       ::ssm::cuda::stream()>>>(part, nchunk, p.D, static_cast<W*>(dw));
        check_launch(op);
        dealloc(part, p.device);
      }
    });
  });
  check_launch(op);
}

}  // namespace ssm::cuda
