// diag_scan on CUDA: a chunked scan over time in three passes (reduce, carry, scan). One thread
// owns one (batch, chunk, mode); consecutive threads hold consecutive modes, so every time step's
// loads and stores are coalesced.
//   1. each chunk scanned from a zero state: its end state and the product of its factors
//   2. one thread per (batch, mode) walks the chunks in order: the carry into each chunk
//   3. each chunk scanned again from its carry, writing the states
// b is read twice and x written once; the recurrence per chunk is the sequential one.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/diag_scan_cuda.h"

namespace ssm::cuda {

namespace {

template <class T>
using Pair = std::conditional_t<std::is_same_v<T, double>, double2, float2>;

constexpr int kThreads = 128;
constexpr int64_t kChunk = 64;
constexpr int64_t kMaxGridY = 65535;

template <class T>
__device__ Pair<T> cmul(Pair<T> a, Pair<T> b) {
  return {a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x};
}

// The scan's view of its inputs (DiagScanLaunch on the device). Scan order j = 0 .. L-1 visits
// time index pos(j); factor() is the multiplier of the previous state at scan order j > 0.
template <class T>
struct View {
  const Pair<T>* lam;
  const int32_t* rst;
  int64_t L, P;
  bool per_step, reverse, adjoint;

  __device__ int64_t pos(int64_t j) const { return reverse ? L - 1 - j : j; }
  __device__ bool starts(int64_t b, int64_t j) const {
    if (j == 0) return true;
    if (!rst) return false;
    int64_t k = pos(j);
    return rst[b * L + (reverse ? k + 1 : k)] != 0;
  }
  __device__ Pair<T> factor(int64_t b, int64_t j, int64_t p) const {
    int64_t k = pos(adjoint ? j - 1 : j);
    Pair<T> l = per_step ? lam[(b * L + k) * P + p] : lam[p];
    if (adjoint) l.y = -l.y;
    return l;
  }
};

template <class T>
View<T> view(const DiagScanLaunch& s) {
  return {static_cast<const Pair<T>*>(s.lambda), s.seq_start, s.L, s.P, s.per_step, s.reverse,
          s.adjoint};
}

// Pass 1: ends[b, c, p], prods[b, c, p] of chunk c scanned from zero.
template <class T>
__global__ void chunk_reduce(View<T> v, const Pair<T>* bv, Pair<T>* ends, Pair<T>* prods,
                             int64_t T_len, int64_t C) {
  int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, c = blockIdx.y, b = blockIdx.z;
  if (p >= v.P) return;
  int64_t j0 = c * T_len, j1 = min(j0 + T_len, v.L);
  Pair<T> s = {0, 0}, q = {1, 0};
  for (int64_t j = j0; j < j1; ++j) {
    Pair<T> in = bv[(b * v.L + v.pos(j)) * v.P + p];
    if (v.starts(b, j)) {
      s = in;
      q = {0, 0};
    } else {
      Pair<T> f = v.factor(b, j, p);
      s = cmul<T>(f, s);
      s.x += in.x;
      s.y += in.y;
      q = cmul<T>(f, q);
    }
  }
  ends[(b * C + c) * v.P + p] = s;
  prods[(b * C + c) * v.P + p] = q;
}

// Pass 2: ends[b, c, p] becomes the carry into chunk c.
template <class T>
__global__ void chunk_carry(const Pair<T>* prods, Pair<T>* ends, int64_t B, int64_t C, int64_t P) {
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= B * P) return;
  int64_t b = i / P, p = i % P;
  Pair<T> carry = {0, 0};
  for (int64_t c = 0; c < C; ++c) {
    int64_t at = (b * C + c) * P + p;
    Pair<T> e = ends[at], next = cmul<T>(prods[at], carry);
    next.x += e.x;
    next.y += e.y;
    ends[at] = carry;
    carry = next;
  }
}

// Pass 3: chunk c scanned from its carry, writing x.
template <class T>
__global__ void chunk_scan(View<T> v, const Pair<T>* bv, const Pair<T>* carries, Pair<T>* x,
                           int64_t T_len, int64_t C) {
  int64_t p = int64_t(blockIdx.x) * blockDim.x + threadIdx.x, c = blockIdx.y, b = blockIdx.z;
  if (p >= v.P) return;
  int64_t j0 = c * T_len, j1 = min(j0 + T_len, v.L);
  Pair<T> s = carries[(b * C + c) * v.P + p];
  for (int64_t j = j0; j < j1; ++j) {
    int64_t at = (b * v.L + v.pos(j)) * v.P + p;
    Pair<T> in = bv[at];
    if (v.starts(b, j)) {
      s = in;
    } else {
      s = cmul<T>(v.factor(b, j, p), s);
      s.x += in.x;
      s.y += in.y;
    }
    x[at] = s;
  }
}

// out_k = h_k conj(x_{k-d}), 0 where position k starts from zero; one thread per element.
template <class T>
__global__ void lambda_grad_kernel(View<T> v, const Pair<T>* h, const Pair<T>* x, Pair<T>* out,
                                   int64_t total) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t p = i % v.P, k = (i / v.P) % v.L, b = i / (v.P * v.L);
    int64_t j = v.reverse ? v.L - 1 - k : k;
    if (v.starts(b, j)) {
      out[i] = {0, 0};
      continue;
    }
    Pair<T> hv = h[i], xv = x[(b * v.L + v.pos(j - 1)) * v.P + p];
    out[i] = {hv.x * xv.x + hv.y * xv.y, hv.y * xv.x - hv.x * xv.y};
  }
}

template <class T>
void forward_t(const DiagScanLaunch& s, const void* b, void* x, void* work) {
  const int64_t T_len = diag_scan_chunk_length(s.L), C = (s.L + T_len - 1) / T_len;
  SSM_CHECK(s.B <= kMaxGridY, "diag_scan: batch ", s.B, " exceeds the CUDA grid (", kMaxGridY, ")");
  auto* ends = static_cast<Pair<T>*>(work);
  auto* prods = ends + s.B * C * s.P;
  const auto* bv = static_cast<const Pair<T>*>(b);
  dim3 grid(unsigned((s.P + kThreads - 1) / kThreads), unsigned(C), unsigned(s.B));
  View<T> v = view<T>(s);
  if (C > 1) {
    chunk_reduce<T><<<grid, kThreads, 0, stream()>>>(v, bv, ends, prods, T_len, C);
    check_launch("diag_scan: chunk_reduce");
    int64_t rows = s.B * s.P;
    chunk_carry<T><<<unsigned((rows + kThreads - 1) / kThreads), kThreads, 0, stream()>>>(
        prods, ends, s.B, C, s.P);
    check_launch("diag_scan: chunk_carry");
  } else {
    fill_bytes(ends, 0, size_t(s.B * s.P) * sizeof(Pair<T>));
  }
  chunk_scan<T><<<grid, kThreads, 0, stream()>>>(v, bv, ends, static_cast<Pair<T>*>(x), T_len, C);
  check_launch("diag_scan: chunk_scan");
}

template <class T>
void lambda_grad_t(const DiagScanLaunch& s, const void* h, const void* x, void* out) {
  int64_t total = s.B * s.L * s.P;
  unsigned blocks = unsigned(std::min<int64_t>((total + 255) / 256, int64_t(1) << 20));
  lambda_grad_kernel<T><<<blocks, 256, 0, stream()>>>(
      view<T>(s), static_cast<const Pair<T>*>(h), static_cast<const Pair<T>*>(x),
      static_cast<Pair<T>*>(out), total);
  check_launch("diag_scan: lambda_grad");
}

}  // namespace

int64_t diag_scan_chunk_length(int64_t L) {
  return std::max<int64_t>(kChunk, (L + kMaxGridY - 1) / kMaxGridY);
}

void diag_scan_forward(const DiagScanLaunch& s, const void* b, void* x, void* work) {
  SSM_CHECK(cudaSetDevice(s.device) == cudaSuccess, "diag_scan: cannot select cuda:", s.device);
  if (s.dtype == DType::f64)
    forward_t<double>(s, b, x, work);
  else
    forward_t<float>(s, b, x, work);
}

void diag_scan_lambda_grad(const DiagScanLaunch& s, const void* h, const void* x, void* out) {
  SSM_CHECK(cudaSetDevice(s.device) == cudaSuccess, "diag_scan: cannot select cuda:", s.device);
  if (s.dtype == DType::f64)
    lambda_grad_t<double>(s, h, x, out);
  else
    lambda_grad_t<float>(s, h, x, out);
}

}  // namespace ssm::cuda
