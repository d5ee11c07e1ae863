// cross_entropy on CUDA: one block per row. The forward walks the row once with an online
// logsumexp (running max and rescaled sum per thread, combined across the block), so nothing of
// size C is stored; the backward recomputes softmax from the saved logsumexp. A target out of
// range sets a device flag (the lowest bad position, by atomicMin) that the launcher reads back.
#include <cuda_runtime.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/cross_entropy_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kAhead = 8;  // loads per thread issued ahead

__device__ __forceinline__ int64_t target_at(const CrossEntropyProblem& p, int64_t m) {
  int64_t off = p.trows.offset(m);
  return p.target_i32 ? int64_t(static_cast<const int32_t*>(p.target)[off])
                      : static_cast<const int64_t*>(p.target)[off];
}

__device__ __forceinline__ float ex(float v) { return __expf(v); }
__device__ __forceinline__ double ex(double v) { return exp(v); }

template <class T>
__global__ void forward_kernel(CrossEntropyProblem p, double* lse, double* rowloss, T* out_none,
                               unsigned long long* bad) {
  using A = acc_t<T>;
  __shared__ A smax[kThreads / 32], ssum[kThreads / 32];
  __shared__ double sx[kThreads / 32];
  int64_t m = blockIdx.x;
  int64_t t = target_at(p, m);
  if (t == p.ignore) {
    if (threadIdx.x == 0) {
      lse[m] = 0;
      rowloss[m] = 0;
      if (out_none) st_t<T>(out_none, m, A(0));
    }
    return;
  }
  if (t < 0 || t >= p.C) {
    if (threadIdx.x == 0) {
      atomicMin(bad, (unsigned long long)m);
      lse[m] = 0;
      rowloss[m] = 0;
      if (out_none) st_t<T>(out_none, m, A(0));
    }
    return;
  }
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(m);
  A mx = -INFINITY, s = 0;
  double sumx = 0;
  // kAhead loads issued before their use: bytes in flight for the memory latency
  for (int64_t c0 = threadIdx.x; c0 < p.C; c0 += kAhead * kThreads) {
    A vs[kAhead];
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      int64_t c = c0 + u * kThreads;
      vs[u] = c < p.C ? ld_t<T>(x, c * p.cs) : A(-INFINITY);
    }
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      A v = vs[u];
      if (c0 + u * kThreads >= p.C) break;
      if (v > mx) {
        s = s * ex(mx - v) + A(1);  // exp(-inf) = 0 on the first element
        mx = v;
      } else if (v != -INFINITY) {
        s += ex(v - mx);
      }
      sumx += double(v);
    }
  }
  // combine (mx, s) over the warp, then over warps
  for (int o = 16; o > 0; o /= 2) {
    A m2 = __shfl_xor_sync(0xffffffffu, mx, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
    A mm = m2 > mx ? m2 : mx;
    s = (mx == -INFINITY ? A(0) : s * ex(mx - mm)) + (m2 == -INFINITY ? A(0) : s2 * ex(m2 - mm));
    mx = mm;
    sumx += __shfl_xor_sync(0xffffffffu, sumx, o);
  }
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    smax[warp] = mx;
    ssum[warp] = s;
    sx[warp] = sumx;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  A M = -INFINITY;
  for (int k = 0; k < kThreads / 32; ++k) M = smax[k] > M ? smax[k] : M;
  double S = 0, SX = 0;
  for (int k = 0; k < kThreads / 32; ++k) {
    if (smax[k] != -INFINITY) S += double(ssum[k]) * double(ex(smax[k] - M));
    SX += sx[k];
  }
  double l = double(M) + log(S);
  double val = l - (1.0 - p.eps) * double(ld_t<T>(x, t * p.cs));
  if (p.eps > 0) val -= p.eps / double(p.C) * SX;
  lse[m] = l;
  rowloss[m] = val;
  if (out_none) st_t<T>(out_none, m, A(val));
}

// One block: total = sum of rowloss, count = non-ignored rows; out = total (sum) or total / count.
template <class T>
__global__ void reduce_kernel(CrossEntropyProblem p, const double* rowloss, int64_t* count, T* out) {
  __shared__ double sl[1024];
  __shared__ long long sc[1024];
  double s = 0;
  long long n = 0;
  for (int64_t m = threadIdx.x; m < p.M; m += blockDim.x) {
    s += rowloss[m];
    n += target_at(p, m) != p.ignore;
  }
  sl[threadIdx.x] = s;
  sc[threadIdx.x] = n;
  __syncthreads();
  for (int w = blockDim.x / 2; w > 0; w /= 2) {
    if (int(threadIdx.x) < w) {
      sl[threadIdx.x] += sl[threadIdx.x + w];
      sc[threadIdx.x] += sc[threadIdx.x + w];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    *count = sc[0];
    double total = sl[0];
    if (p.reduction == 1) total /= double(sc[0]);  // 0 / 0 = NaN, as PyTorch
    if (out) st_t<T>(out, 0, acc_t<T>(total));
  }
}

template <class T>
__global__ void backward_kernel(CrossEntropyProblem p, const double* lse, const int64_t* count,
                                const void* gout, DType gdt, T* dx, NdIndex dx_rows, int64_t dx_cs) {
  using A = acc_t<T>;
  int64_t m = blockIdx.x;
  int64_t t = target_at(p, m);
  T* d = dx + dx_rows.offset(m);
  if (t == p.ignore) {
    for (int64_t c = threadIdx.x; c < p.C; c += kThreads) st_t<T>(d, c * dx_cs, A(0));
    return;
  }
  double w = p.reduction == 0 ? ld_any<double>(gout, m, gdt) : ld_any<double>(gout, 0, gdt);
  if (p.reduction == 1) w /= double(*count);
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(m);
  A wm = A(w), l = A(lse[m]), smooth = A(p.eps / double(p.C)), hit = A(1.0 - p.eps);
  for (int64_t c0 = threadIdx.x; c0 < p.C; c0 += kAhead * kThreads) {
    A vs[kAhead];
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      int64_t c = c0 + u * kThreads;
      vs[u] = c < p.C ? ld_t<T>(x, c * p.cs) : A(0);
    }
#pragma unroll
    for (int u = 0; u < kAhead; ++u) {
      int64_t c = c0 + u * kThreads;
      if (c < p.C) st_t<T>(d, c * dx_cs, wm * (ex(vs[u] - l) - smooth - (c == t ? hit : A(0))));
    }
  }
}

}  // namespace

int64_t cross_entropy_forward(const CrossEntropyProblem& p, double* lse, int64_t* count, void* out,
                              int64_t* bad_value) {
  SSM_CHECK(p.M <= INT32_MAX, "cross_entropy: ", p.M, " rows exceed the CUDA grid");
  auto* bad = static_cast<unsigned long long*>(alloc(sizeof(unsigned long long), p.device));
  fill_bytes(bad, 0xff, sizeof(unsigned long long));  // ULLONG_MAX: no bad position
  double* rowloss = static_cast<double*>(alloc(size_t(std::max<int64_t>(p.M, 1)) * sizeof(double), p.device));
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    if (p.M > 0)
      forward_kernel<scalar_t><<<unsigned(p.M), kThreads, 0, ::ssm::cuda::stream()>>>(
          p, lse, rowloss, p.reduction == 0 ? static_cast<scalar_t*>(out) : nullptr, bad);
    reduce_kernel<scalar_t><<<1, 1024, 0, ::ssm::cuda::stream()>>>(p, rowloss, count,
                                         p.reduction == 0 ? nullptr : static_cast<scalar_t*>(out));
  });
  check_launch("cross_entropy");
  unsigned long long b = 0;
  memcpy(&b, false, bad, true, sizeof b);  // waits for the kernels
  dealloc(bad, p.device);
  dealloc(rowloss, p.device);
  if (b == ULLONG_MAX) return -1;
  int64_t m = int64_t(b);
  int64_t off = p.trows.offset(m);
  if (p.target_i32) {
    int32_t v = 0;
    memcpy(&v, false, static_cast<const int32_t*>(p.target) + off, true, sizeof v);
    *bad_value = v;
  } else {
    memcpy(bad_value, false, static_cast<const int64_t*>(p.target) + off, true, sizeof(int64_t));
  }
  return m;
}

void cross_entropy_backward(const CrossEntropyProblem& p, const double* lse, const int64_t* count,
                            const void* gout, DType gdt, void* dx, const NdIndex& dx_rows,
                            int64_t dx_cs) {
  if (p.M == 0 || p.C == 0) return;
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    backward_kernel<scalar_t><<<unsigned(p.M), kThreads, 0, ::ssm::cuda::stream()>>>(p, lse, count, gout, gdt,
                                                          static_cast<scalar_t*>(dx), dx_rows, dx_cs);
  });
  check_launch("cross_entropy backward");
}

}  // namespace ssm::cuda
