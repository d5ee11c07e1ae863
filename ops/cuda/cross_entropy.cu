// cross_entropy on CUDA: one block per row. The forward walks the row once with an online
// logsumexp (running max and rescaled sum per thread, combined across the block), so nothing of
// size C is stored; the backward recomputes softmax from the saved logsumexp. A target out of
// range sets a device flag (the lowest bad position, by atomicMin) that the launcher reads back.
//
// Both kernels are memory-bound at vocabulary sizes, so a row with class stride 1 is read (and
// the gradient written) in 16-byte vectors: a scalar head up to the first 16-byte boundary, the
// vectors, a scalar tail. Other strides take a scalar loop. float32 (and bf16 / f16) exponentials
// are one FFMA and one ex2.approx each.
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

// Threads per row, and 16-byte vectors per thread loaded before their use (bytes in flight for
// the memory latency). Measured on an H200 at (16384, 50280) bf16: the forward is fastest at
// 256 x 8, the backward (which also writes) at 512 x 4. The double forward spills at 8.
constexpr int kFwdThreads = 256, kBwdThreads = 512, kBwdUnroll = 4;
template <class A>
constexpr int kFwdUnroll = sizeof(A) == 8 ? 4 : 8;
// Scalar loads per thread ahead in the strided path: 8 for float, 4 for double (at 8, the forward's
// double exp()s spill).
template <class A>
constexpr int kAhead = 32 / int(sizeof(A));

__device__ __forceinline__ int64_t target_at(const CrossEntropyProblem& p, int64_t m) {
  int64_t off = p.trows.offset(m);
  return p.target_i32 ? int64_t(static_cast<const int32_t*>(p.target)[off])
                      : static_cast<const int64_t*>(p.target)[off];
}

// exp(v - ref) with ref pre-scaled by pre(): float works in base 2 (ex2.approx: -inf gives 0, no
// range reduction; results under 2^-126 flush to 0, far below the sum's rounding); double keeps
// exp() for its accuracy.
template <class A>
struct Exp;
template <>
struct Exp<float> {
  static constexpr float kLog2e = 1.4426950408889634f;
  static __device__ __forceinline__ float pre(double ref) {
    return float(ref * 1.4426950408889634);
  }
  static __device__ __forceinline__ float pre(float ref) { return ref * kLog2e; }
  static __device__ __forceinline__ float of(float v, float ref_pre) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(fmaf(v, kLog2e, -ref_pre)));
    return r;
  }
};
template <>
struct Exp<double> {
  static __device__ __forceinline__ double pre(double ref) { return ref; }
  static __device__ __forceinline__ double of(double v, double ref_pre) { return exp(v - ref_pre); }
};

// Sixteen bytes as N = 16 / sizeof(T) values of acc_t<T>, and back (rounding to nearest even).
template <class T>
struct Vec {
  static constexpr int N = 16 / int(sizeof(T));
  using A = acc_t<T>;
  static __device__ __forceinline__ void unpack(uint4 r, A (&v)[N]) {
    const uint32_t w[4] = {r.x, r.y, r.z, r.w};
    if constexpr (std::is_same_v<T, bf16>) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        v[2 * k] = __uint_as_float(w[k] << 16);
        v[2 * k + 1] = __uint_as_float(w[k] & 0xffff0000u);
      }
    } else if constexpr (std::is_same_v<T, f16>) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[k]));
        v[2 * k] = f.x;
        v[2 * k + 1] = f.y;
      }
    } else if constexpr (std::is_same_v<T, float>) {
#pragma unroll
      for (int k = 0; k < 4; ++k) v[k] = __uint_as_float(w[k]);
    } else {
      v[0] = __hiloint2double(int(w[1]), int(w[0]));
      v[1] = __hiloint2double(int(w[3]), int(w[2]));
    }
  }
  static __device__ __forceinline__ uint4 pack(const A (&v)[N]) {
    uint32_t w[4];
    if constexpr (std::is_same_v<T, bf16>) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        __nv_bfloat162 h = __floats2bfloat162_rn(v[2 * k], v[2 * k + 1]);
        w[k] = *reinterpret_cast<const uint32_t*>(&h);
      }
    } else if constexpr (std::is_same_v<T, f16>) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        __half2 h = __floats2half2_rn(v[2 * k], v[2 * k + 1]);
        w[k] = *reinterpret_cast<const uint32_t*>(&h);
      }
    } else if constexpr (std::is_same_v<T, float>) {
#pragma unroll
      for (int k = 0; k < 4; ++k) w[k] = __float_as_uint(v[k]);
    } else {
      w[0] = uint32_t(__double2loint(v[0]));
      w[1] = uint32_t(__double2hiint(v[0]));
      w[2] = uint32_t(__double2loint(v[1]));
      w[3] = uint32_t(__double2hiint(v[1]));
    }
    return make_uint4(w[0], w[1], w[2], w[3]);
  }
};

// Elements before the first 16-byte boundary of a class-stride-1 row, or -1 when the row is
// strided, or when x and d (the gradient, if given) sit differently against 16-byte boundaries.
template <class T>
__device__ __forceinline__ int vector_head(const T* x, int64_t xs, const T* d = nullptr,
                                           int64_t ds = 1) {
  auto mis = [](const T* q) { return int(reinterpret_cast<uintptr_t>(q) & 15); };
  if (xs != 1 || ds != 1 || (d && mis(d) != mis(x)) || mis(x) % int(sizeof(T))) return -1;
  return (16 - mis(x)) % 16 / int(sizeof(T));
}

// Online logsumexp of one thread's share of a row: s = sum of exp(v - mx) over the values seen.
template <class A>
struct Lse {
  A mx = -INFINITY, s = 0;
  // One rescale per group of N values rather than a compare per value.
  template <int N>
  __device__ __forceinline__ void add(const A* v) {
    A gm = v[0];
#pragma unroll
    for (int k = 1; k < N; ++k) gm = fmax(gm, v[k]);  // NaNs skipped here reach s below
    if (gm > mx) {
      s *= Exp<A>::of(mx, Exp<A>::pre(gm));  // exp(-inf) = 0 for the first values
      mx = gm;
    }
    const A ref = Exp<A>::pre(mx == A(-INFINITY) ? A(0) : mx);  // all -inf so far: adds zeros
    A g = 0;
#pragma unroll
    for (int k = 0; k < N; ++k) g += Exp<A>::of(v[k], ref);
    s += g;
  }
  // Another thread's (mx, s).
  __device__ __forceinline__ void merge(A m2, A s2) {
    A mm = m2 > mx ? m2 : mx;
    s = (mx == A(-INFINITY) ? A(0) : s * Exp<A>::of(mx, Exp<A>::pre(mm))) +
        (m2 == A(-INFINITY) ? A(0) : s2 * Exp<A>::of(m2, Exp<A>::pre(mm)));
    mx = mm;
  }
};

template <class A, int N>
__device__ __forceinline__ double sum_of(const A (&v)[N]) {
  A g = v[0];
#pragma unroll
  for (int k = 1; k < N; ++k) g += v[k];
  return double(g);
}

template <class T>
__global__ void __launch_bounds__(kFwdThreads)
    forward_kernel(CrossEntropyProblem p, double* lse, double* rowloss, T* out_none,
                   unsigned long long* bad) {
  using A = acc_t<T>;
  using V = Vec<T>;
  __shared__ A smax[kFwdThreads / 32], ssum[kFwdThreads / 32];
  __shared__ double sx[kFwdThreads / 32];
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
  const bool smooth = p.eps > 0;  // only then the sum of the logits (a -inf would make it NaN)
  Lse<A> st;
  double sumx = 0;
  const int head = vector_head(x, p.cs);
  if (head >= 0) {
    const int64_t h = head < p.C ? head : p.C, nv = (p.C - h) / V::N, tail = h + nv * V::N;
    auto add1 = [&](int64_t c) {
      A v = ld_t<T>(x, c);
      st.add<1>(&v);
      if (smooth) sumx += double(v);
    };
    if (threadIdx.x < h) add1(threadIdx.x);  // the scalar head and tail: fewer than N each
    if (tail + threadIdx.x < p.C) add1(tail + threadIdx.x);
    constexpr int U = kFwdUnroll<A>;  // loads issued before their use
    const uint4* q = reinterpret_cast<const uint4*>(x + h) + threadIdx.x;
    for (int64_t i = threadIdx.x; i < nv; i += U * kFwdThreads, q += U * kFwdThreads) {
      uint4 r[U];
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (i + u * kFwdThreads < nv) r[u] = __ldg(q + u * kFwdThreads);
#pragma unroll
      for (int u = 0; u < U; ++u)
        if (i + u * kFwdThreads < nv) {
          A v[V::N];
          V::unpack(r[u], v);
          st.add<V::N>(v);
          if (smooth) sumx += sum_of(v);
        }
    }
  } else {
    constexpr int K = kAhead<A>;
    const int64_t step = kFwdThreads * p.cs;
    const T* q = x + threadIdx.x * p.cs;
    for (int64_t c0 = threadIdx.x; c0 < p.C; c0 += K * kFwdThreads) {
      A v[K];
      const T* qu = q;
#pragma unroll
      for (int u = 0; u < K; ++u, qu += step)
        v[u] = c0 + u * kFwdThreads < p.C ? ld_t<T>(qu, 0) : A(-INFINITY);
      q = qu;
      st.add<K>(v);  // the -inf past the row's end add nothing
      if (smooth)
#pragma unroll
        for (int u = 0; u < K; ++u)
          if (c0 + u * kFwdThreads < p.C) sumx += double(v[u]);
    }
  }
  // combine (mx, s) over the warp, then over warps
  for (int o = 16; o > 0; o /= 2) {
    A m2 = __shfl_xor_sync(0xffffffffu, st.mx, o), s2 = __shfl_xor_sync(0xffffffffu, st.s, o);
    st.merge(m2, s2);
    sumx += __shfl_xor_sync(0xffffffffu, sumx, o);
  }
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    smax[warp] = st.mx;
    ssum[warp] = st.s;
    sx[warp] = sumx;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  A M = -INFINITY;
  for (int k = 0; k < kFwdThreads / 32; ++k) M = smax[k] > M ? smax[k] : M;
  double S = 0, SX = 0;
  for (int k = 0; k < kFwdThreads / 32; ++k) {
    if (smax[k] != -INFINITY) S += double(ssum[k]) * double(Exp<A>::of(smax[k], Exp<A>::pre(M)));
    SX += sx[k];
  }
  double l = double(M) + log(S);
  double val = l - (1.0 - p.eps) * double(ld_t<T>(x, t * p.cs));
  if (smooth) val -= p.eps / double(p.C) * SX;
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

// dx[c] = w exp(x[c] - lse) - w eps / C, less w (1 - eps) at the target: one exponential and one
// FFMA per element.
template <class T>
__global__ void __launch_bounds__(kBwdThreads)
    backward_kernel(CrossEntropyProblem p, const double* lse, const int64_t* count,
                    const void* gout, DType gdt, T* dx, NdIndex dx_rows, int64_t dx_cs) {
  using A = acc_t<T>;
  using V = Vec<T>;
  int64_t m = blockIdx.x;
  int64_t t = target_at(p, m);
  T* d = dx + dx_rows.offset(m);
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(m);
  const int head = vector_head(x, p.cs, d, dx_cs);
  const int64_t h = head < 0 ? 0 : head < p.C ? head : p.C, nv = head < 0 ? 0 : (p.C - h) / V::N,
                tail = h + nv * V::N;
  uint4* o = reinterpret_cast<uint4*>(d + h) + threadIdx.x;
  if (t == p.ignore) {
    if (head < 0) {
      for (int64_t c = threadIdx.x; c < p.C; c += kBwdThreads) st_t<T>(d, c * dx_cs, A(0));
      return;
    }
    if (threadIdx.x < h) st_t<T>(d, threadIdx.x, A(0));
    if (tail + threadIdx.x < p.C) st_t<T>(d, tail + threadIdx.x, A(0));
    for (int64_t i = threadIdx.x; i < nv; i += kBwdThreads, o += kBwdThreads)
      *o = make_uint4(0, 0, 0, 0);
    return;
  }
  double w = p.reduction == 0 ? ld_any<double>(gout, m, gdt) : ld_any<double>(gout, 0, gdt);
  if (p.reduction == 1) w /= double(*count);
  const A wm = A(w), ref = Exp<A>::pre(lse[m]), off = A(w * (p.eps / double(p.C))),
          off_t = A(w * (p.eps / double(p.C) + (1.0 - p.eps)));
  auto grad = [&](A v, bool at_t) { return wm * Exp<A>::of(v, ref) - (at_t ? off_t : off); };
  if (head < 0) {
    constexpr int K = kAhead<A>;
    const int64_t step = kBwdThreads * p.cs, dstep = kBwdThreads * dx_cs;
    const T* q = x + threadIdx.x * p.cs;
    T* e = d + threadIdx.x * dx_cs;
    for (int64_t c0 = threadIdx.x; c0 < p.C; c0 += K * kBwdThreads) {
      A v[K];
      const T* qu = q;
#pragma unroll
      for (int u = 0; u < K; ++u, qu += step)
        v[u] = c0 + u * kBwdThreads < p.C ? ld_t<T>(qu, 0) : A(0);
      q = qu;
#pragma unroll
      for (int u = 0; u < K; ++u, e += dstep)
        if (c0 + u * kBwdThreads < p.C) st_t<T>(e, 0, grad(v[u], c0 + u * kBwdThreads == t));
    }
    return;
  }
  auto one = [&](int64_t c) { st_t<T>(d, c, grad(ld_t<T>(x, c), c == t)); };
  if (threadIdx.x < h) one(threadIdx.x);  // the scalar head and tail: fewer than N each
  if (tail + threadIdx.x < p.C) one(tail + threadIdx.x);
  // the vector holding the target, and the target's place in it
  const int64_t tv = t >= h ? (t - h) / V::N : -1;
  const int jt = int(t - h - tv * V::N);
  const uint4* q = reinterpret_cast<const uint4*>(x + h) + threadIdx.x;
  constexpr int U = kBwdUnroll, step = U * kBwdThreads;
  for (int64_t i = threadIdx.x; i < nv; i += step, q += step, o += step) {
    uint4 r[U];
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (i + u * kBwdThreads < nv) r[u] = __ldg(q + u * kBwdThreads);
#pragma unroll
    for (int u = 0; u < U; ++u)
      if (i + u * kBwdThreads < nv) {
        A v[V::N];
        V::unpack(r[u], v);
        const int j = i + u * kBwdThreads == tv ? jt : -1;
#pragma unroll
        for (int k = 0; k < V::N; ++k) v[k] = grad(v[k], k == j);
        o[u * kBwdThreads] = V::pack(v);
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
      forward_kernel<scalar_t><<<unsigned(p.M), kFwdThreads, 0, ::ssm::cuda::stream()>>>(
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
    backward_kernel<scalar_t><<<unsigned(p.M), kBwdThreads, 0, ::ssm::cuda::stream()>>>(
        p, lse, count, gout, gdt, static_cast<scalar_t*>(dx), dx_rows, dx_cs);
  });
  check_launch("cross_entropy backward");
}

}  // namespace ssm::cuda
