// vandermonde on CUDA (ops/vandermonde.h): the kernel K and its backward, each power Ā^l computed
// on the fly from the per-mode maths shared with the CPU (ops/vandermonde_mode.h); nothing of
// size (H, M, L) is ever stored.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/vandermonde_cuda.h"
#include "ops/vandermonde_mode.h"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;  // forward: positions l per block; backward: threads per (h, m)
constexpr int kTile = 128;     // modes staged in shared memory at a time (forward)
constexpr int kMaxGridY = 65535;

// grid (ceil(L / kThreads), H). Shared memory holds raw reals: __shared__ objects cannot have
// constructors, and Complex<T> has member initialisers.
template <class T>
__global__ void forward_kernel(const Complex<T>* C, const T* dt, const Complex<T>* A, T* K, int Ch,
                               int64_t H, int64_t M, int64_t L, LtiDiscretization method) {
  __shared__ T sx[2 * kTile];
  __shared__ T sv[vdm::kMaxChannels * 2 * kTile];
  const int64_t h = blockIdx.y;
  const int64_t l = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  T acc[vdm::kMaxChannels] = {};
  for (int64_t m0 = 0; m0 < M; m0 += kTile) {
    const int tile = int(M - m0 < kTile ? M - m0 : kTile);
    __syncthreads();  // the previous tile is no longer read
    for (int i = threadIdx.x; i < tile; i += blockDim.x) {
      vdm::Mode<T> md = vdm::mode(dt[h], A[h * M + m0 + i], method);
      sx[2 * i] = md.x.re;
      sx[2 * i + 1] = md.x.im;
      for (int c = 0; c < Ch; ++c) {
        Complex<T> v = C[(c * H + h) * M + m0 + i] * md.bb;
        sv[(c * kTile + i) * 2] = v.re;
        sv[(c * kTile + i) * 2 + 1] = v.im;
      }
    }
    __syncthreads();
    if (l < L)
      for (int i = 0; i < tile; ++i) {
        Complex<T> e = vdm::power(cx(sx[2 * i], sx[2 * i + 1]), T(l));
        for (int c = 0; c < Ch; ++c)
          acc[c] += sv[(c * kTile + i) * 2] * e.re - sv[(c * kTile + i) * 2 + 1] * e.im;
      }
  }
  if (l < L)
    for (int c = 0; c < Ch; ++c) K[(c * H + h) * L + l] = T(2) * acc[c];
}

// grid (M, H), kThreads threads: the sums S0, S1 of mode (h, m) over l, then its gradients.
template <class T>
__global__ void backward_kernel(const Complex<T>* C, const T* dt, const Complex<T>* A, const T* g,
                                Complex<T>* dC, Complex<T>* dA, T* ddt_modes, int Ch, int64_t H,
                                int64_t M, int64_t L, LtiDiscretization method) {
  constexpr int kSums = 4 * vdm::kMaxChannels;  // Re, Im of S0 and S1 per channel
  __shared__ T red[kSums][kThreads];
  const int64_t m = blockIdx.x, h = blockIdx.y;
  const Complex<T> lam = A[h * M + m];
  const vdm::Mode<T> md = vdm::mode(dt[h], lam, method);
  T s[kSums] = {};
  for (int64_t l = threadIdx.x; l < L; l += blockDim.x) {
    Complex<T> e = conj(vdm::power(md.x, T(l)));
    for (int c = 0; c < Ch; ++c) {
      Complex<T> w = g[(c * H + h) * L + l] * e;
      s[4 * c] += w.re;
      s[4 * c + 1] += w.im;
      s[4 * c + 2] += T(l) * w.re;
      s[4 * c + 3] += T(l) * w.im;
    }
  }
  for (int k = 0; k < kSums; ++k) red[k][threadIdx.x] = s[k];
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride)
      for (int k = 0; k < kSums; ++k) red[k][threadIdx.x] += red[k][threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  Complex<T> S0[vdm::kMaxChannels], S1[vdm::kMaxChannels], Cm[vdm::kMaxChannels],
      dCm[vdm::kMaxChannels];
  for (int c = 0; c < Ch; ++c) {
    S0[c] = cx(red[4 * c][0], red[4 * c + 1][0]);
    S1[c] = cx(red[4 * c + 2][0], red[4 * c + 3][0]);
    Cm[c] = C[(c * H + h) * M + m];
  }
  T ddt_m;
  Complex<T> dlam;
  vdm::backward(dt[h], lam, method, Ch, Cm, S0, S1, dCm, ddt_m, dlam);
  for (int c = 0; c < Ch; ++c) dC[(c * H + h) * M + m] = dCm[c];
  dA[h * M + m] = dlam;
  ddt_modes[h * M + m] = ddt_m;
}

// ddt[h] = sum_m ddt_modes[h, m], m in order.
template <class T>
__global__ void sum_modes_kernel(const T* ddt_modes, T* ddt, int64_t H, int64_t M) {
  for (int64_t h = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; h < H;
       h += int64_t(gridDim.x) * blockDim.x) {
    T s = 0;
    for (int64_t m = 0; m < M; ++m) s += ddt_modes[h * M + m];
    ddt[h] = s;
  }
}

template <class T>
void forward_t(const VandermondeLaunch& a, void* K) {
  dim3 grid(unsigned((a.L + kThreads - 1) / kThreads), unsigned(a.H));
  forward_kernel<T><<<grid, kThreads, 0, stream()>>>(
      static_cast<const Complex<T>*>(a.C), static_cast<const T*>(a.dt),
      static_cast<const Complex<T>*>(a.A), static_cast<T*>(K), int(a.Ch), a.H, a.M, a.L, a.method);
  check_launch("vandermonde: forward");
}

template <class T>
void backward_t(const VandermondeLaunch& a, const void* g, void* dC, void* ddt, void* dA,
                void* ddt_modes) {
  if (a.M > 0) {
    dim3 grid(unsigned(a.M), unsigned(a.H));
    backward_kernel<T><<<grid, kThreads, 0, stream()>>>(
        static_cast<const Complex<T>*>(a.C), static_cast<const T*>(a.dt),
        static_cast<const Complex<T>*>(a.A), static_cast<const T*>(g), static_cast<Complex<T>*>(dC),
        static_cast<Complex<T>*>(dA), static_cast<T*>(ddt_modes), int(a.Ch), a.H, a.M, a.L,
        a.method);
    check_launch("vandermonde: backward");
  }
  unsigned blocks = unsigned(std::min<int64_t>((a.H + kThreads - 1) / kThreads, 1024));
  sum_modes_kernel<T><<<blocks, kThreads, 0, stream()>>>(static_cast<const T*>(ddt_modes),
                                                         static_cast<T*>(ddt), a.H, a.M);
  check_launch("vandermonde: sum over modes");
}

void check_sizes(const VandermondeLaunch& a) {
  SSM_CHECK(cudaSetDevice(a.device) == cudaSuccess, "vandermonde: cannot select cuda:", a.device);
  SSM_CHECK(a.H <= kMaxGridY, "vandermonde: H = ", a.H, " channels exceed the CUDA kernel's ",
            kMaxGridY, " (one grid row per channel)");
  SSM_CHECK(a.M <= (int64_t(1) << 31) - 1, "vandermonde: M = ", a.M, " modes is too many for CUDA");
}

}  // namespace

void vandermonde_forward(const VandermondeLaunch& a, void* K) {
  check_sizes(a);
  if (a.H == 0 || a.L == 0) return;
  if (a.dtype == DType::f64)
    forward_t<double>(a, K);
  else
    forward_t<float>(a, K);
}

void vandermonde_backward(const VandermondeLaunch& a, const void* g, void* dC, void* ddt, void* dA,
                          void* ddt_modes) {
  check_sizes(a);
  if (a.H == 0) return;
  if (a.dtype == DType::f64)
    backward_t<double>(a, g, dC, ddt, dA, ddt_modes);
  else
    backward_t<float>(a, g, dC, ddt, dA, ddt_modes);
}

}  // namespace ssm::cuda
