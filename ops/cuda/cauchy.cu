// The cauchy op on CUDA (contract: ops/cauchy.h).
//   forward: one thread per (row, node); the row's poles and weights pass through shared memory
//            in tiles, each thread sums over them in registers (no (H, M, F) intermediate).
//   backward: one thread per (row, pole, chunk of kCauchyChunk nodes) writes the chunk's two
//            partial sums; a second pass, one thread per (channel, pole), adds the chunks and the
//            batch rows in order (no atomics: the result does not depend on scheduling).
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/complex.h"
#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/cauchy_cuda.h"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t total) {
  return unsigned(std::min<int64_t>((total + kThreads - 1) / kThreads, int64_t(1) << 20));
}

// grid: (ceil(F / kThreads), R); v: (R, M), w: (H, M), z: (F), out: (R, F)
template <class T>
__global__ void forward_kernel(const Complex<T>* v, const Complex<T>* w, const Complex<T>* z,
                               Complex<T>* out, int64_t H, int64_t M, int64_t F) {
  // Plain arrays: a __shared__ variable cannot have Complex's default member initialisers.
  __shared__ T sv[2 * kThreads], sw[2 * kThreads];
  const int64_t r = blockIdx.y;
  const int64_t f = int64_t(blockIdx.x) * kThreads + threadIdx.x;
  const Complex<T>* vr = v + r * M;
  const Complex<T>* wr = w + (r % H) * M;
  const Complex<T> zf = f < F ? z[f] : Complex<T>{};
  Complex<T> acc{};
  for (int64_t m0 = 0; m0 < M; m0 += kThreads) {
    const int64_t n = M - m0 < kThreads ? M - m0 : kThreads;
    __syncthreads();
    if (threadIdx.x < n) {
      const Complex<T> a = vr[m0 + threadIdx.x], b = wr[m0 + threadIdx.x];
      sv[2 * threadIdx.x] = a.re;
      sv[2 * threadIdx.x + 1] = a.im;
      sw[2 * threadIdx.x] = b.re;
      sw[2 * threadIdx.x + 1] = b.im;
    }
    __syncthreads();
    if (f < F)
      for (int64_t m = 0; m < n; ++m) {
        const Complex<T> a = cx(sv[2 * m], sv[2 * m + 1]), b = cx(sw[2 * m], sw[2 * m + 1]);
        acc = acc + a / (zf - b) + conj(a) / (zf - conj(b));
      }
  }
  if (f < F) out[r * F + f] = acc;
}

// One thread per (r, m, c): the node chunk c's sums
//   part_s = sum_f conj(c) g + c' conj(g),  part_t = sum_f conj(c^2) g + c'^2 conj(g)
// parts: (R, M, NC)
template <class T>
__global__ void partial_kernel(const Complex<T>* w, const Complex<T>* z, const Complex<T>* g,
                               Complex<T>* part_s, Complex<T>* part_t, int64_t R, int64_t H,
                               int64_t M, int64_t F, int64_t NC) {
  const int64_t total = R * M * NC;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i % NC, rm = i / NC, m = rm % M, r = rm / M;
    const Complex<T> wm = w[(r % H) * M + m];
    const Complex<T>* gr = g + r * F;
    const int64_t f1 = (c + 1) * kCauchyChunk < F ? (c + 1) * kCauchyChunk : F;
    Complex<T> s{}, t{};
    for (int64_t f = c * kCauchyChunk; f < f1; ++f) {
      const Complex<T> a = reciprocal(z[f] - wm), b = reciprocal(z[f] - conj(wm));
      const Complex<T> gf = gr[f], gc = conj(gf);
      s = s + conj(a) * gf + b * gc;
      t = t + conj(a * a) * gf + (b * b) * gc;
    }
    part_s[i] = s;
    part_t[i] = t;
  }
}

// One thread per (h, m): dv[g, h, m] = sum_c part_s, dw[h, m] = sum_g conj(v) sum_c part_t.
template <class T>
__global__ void reduce_kernel(const Complex<T>* v, const Complex<T>* part_s,
                              const Complex<T>* part_t, Complex<T>* dv, Complex<T>* dw, int64_t G,
                              int64_t H, int64_t M, int64_t NC) {
  const int64_t total = H * M;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    Complex<T> dwi{};
    for (int64_t b = 0; b < G; ++b) {
      const int64_t row = b * H * M + i;  // (b, h, m) with i = h * M + m
      Complex<T> s{}, t{};
      for (int64_t c = 0; c < NC; ++c) {
        s = s + part_s[row * NC + c];
        t = t + part_t[row * NC + c];
      }
      if (dv) dv[row] = s;
      dwi = dwi + conj(v[row]) * t;
    }
    if (dw) dw[i] = dwi;
  }
}

template <class T>
void forward_t(const void* v, const void* w, const void* z, void* out, int64_t G, int64_t H,
               int64_t M, int64_t F) {
  const int64_t R = G * H;
  if (R == 0 || F == 0) return;
  // gridDim.y is at most 65535: rows beyond it go in further launches.
  for (int64_t r0 = 0; r0 < R; r0 += 65535) {
    const int64_t rows = std::min<int64_t>(65535, R - r0);
    dim3 grid(unsigned((F + kThreads - 1) / kThreads), unsigned(rows));
    forward_kernel<T><<<grid, kThreads, 0, stream()>>>(
        static_cast<const Complex<T>*>(v) + r0 * M, static_cast<const Complex<T>*>(w),
        static_cast<const Complex<T>*>(z), static_cast<Complex<T>*>(out) + r0 * F, H, M, F);
    check_launch("cauchy: forward");
  }
}

template <class T>
void backward_t(const void* v, const void* w, const void* z, const void* g, void* dv, void* dw,
                void* part_s, void* part_t, int64_t G, int64_t H, int64_t M, int64_t F) {
  const int64_t R = G * H, NC = (F + kCauchyChunk - 1) / kCauchyChunk;
  if (R * M * NC == 0) return;
  auto* ps = static_cast<Complex<T>*>(part_s);
  auto* pt = static_cast<Complex<T>*>(part_t);
  partial_kernel<T><<<blocks_for(R * M * NC), kThreads, 0, stream()>>>(
      static_cast<const Complex<T>*>(w), static_cast<const Complex<T>*>(z),
      static_cast<const Complex<T>*>(g), ps, pt, R, H, M, F, NC);
  check_launch("cauchy: backward partial sums");
  reduce_kernel<T><<<blocks_for(H * M), kThreads, 0, stream()>>>(
      static_cast<const Complex<T>*>(v), ps, pt, static_cast<Complex<T>*>(dv),
      static_cast<Complex<T>*>(dw), G, H, M, NC);
  check_launch("cauchy: backward reduce");
}

}  // namespace

void cauchy_forward(int device, DType dtype, const void* v, const void* w, const void* z,
                    void* out, int64_t G, int64_t H, int64_t M, int64_t F) {
  SSM_CHECK(cudaSetDevice(device) == cudaSuccess, "cauchy: cannot select cuda:", device);
  if (dtype == DType::f64)
    forward_t<double>(v, w, z, out, G, H, M, F);
  else
    forward_t<float>(v, w, z, out, G, H, M, F);
}

void cauchy_backward(int device, DType dtype, const void* v, const void* w, const void* z,
                     const void* g, void* dv, void* dw, void* part_s, void* part_t, int64_t G,
                     int64_t H, int64_t M, int64_t F) {
  SSM_CHECK(cudaSetDevice(device) == cudaSuccess, "cauchy: cannot select cuda:", device);
  if (dtype == DType::f64)
    backward_t<double>(v, w, z, g, dv, dw, part_s, part_t, G, H, M, F);
  else
    backward_t<float>(v, w, z, g, dv, dw, part_s, part_t, G, H, M, F);
}

}  // namespace ssm::cuda
