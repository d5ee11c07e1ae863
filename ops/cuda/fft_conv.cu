// fft_conv's spectral products on CUDA: elementwise complex products (one thread per bin) and the
// batch sum of the kernel gradient (one thread per (channel, bin), the batch in order, so the
// result does not depend on scheduling). Complex pairs are read as float2 / double2.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/fft_conv_cuda.h"

namespace ssm::cuda {

namespace {

template <class T>
using Pair = std::conditional_t<std::is_same_v<T, double>, double2, float2>;

constexpr int kThreads = 256;

unsigned blocks_for(int64_t total) {
  return unsigned(std::min<int64_t>((total + kThreads - 1) / kThreads, int64_t(1) << 20));
}

// a: (B, H, F), k: (H, F) -> y: (B, H, F)
template <class T>
__global__ void mul_kernel(const Pair<T>* a, const Pair<T>* k, Pair<T>* y, int64_t total, int64_t HF,
                           T sk) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    Pair<T> x = a[i], w = k[i % HF];
    w.y *= sk;
    y[i] = {x.x * w.x - x.y * w.y, x.x * w.y + x.y * w.x};
  }
}

// a, c: (B, H, F) -> y: (H, F) = sum_b a conj(c)
template <class T>
__global__ void mul_conj_sum_kernel(const Pair<T>* a, const Pair<T>* c, Pair<T>* y, int64_t B,
                                    int64_t HF) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < HF;
       i += int64_t(gridDim.x) * blockDim.x) {
    T re = 0, im = 0;
    for (int64_t b = 0; b < B; ++b) {
      Pair<T> x = a[b * HF + i], z = c[b * HF + i];
      re += x.x * z.x + x.y * z.y;
      im += x.y * z.x - x.x * z.y;
    }
    y[i] = {re, im};
  }
}

template <class T>
void mul_t(const void* a, const void* k, void* y, int64_t B, int64_t H, int64_t F, bool conj_k) {
  int64_t total = B * H * F;
  if (total == 0) return;
  mul_kernel<T><<<blocks_for(total), kThreads, 0, stream()>>>(
      static_cast<const Pair<T>*>(a), static_cast<const Pair<T>*>(k), static_cast<Pair<T>*>(y),
      total, H * F, conj_k ? T(-1) : T(1));
  check_launch("fft_conv: mul");
}

template <class T>
void mul_conj_sum_t(const void* a, const void* c, void* y, int64_t B, int64_t H, int64_t F) {
  int64_t HF = H * F;
  if (HF == 0) return;
  mul_conj_sum_kernel<T><<<blocks_for(HF), kThreads, 0, stream()>>>(
      static_cast<const Pair<T>*>(a), static_cast<const Pair<T>*>(c), static_cast<Pair<T>*>(y), B, HF);
  check_launch("fft_conv: mul_conj_sum");
}

}  // namespace

void fft_conv_mul(int device, DType dtype, const void* a, const void* k, void* y, int64_t B,
                  int64_t H, int64_t F, bool conj_k) {
  SSM_CHECK(cudaSetDevice(device) == cudaSuccess, "fft_conv: cannot select cuda:", device);
  if (dtype == DType::f64)
    mul_t<double>(a, k, y, B, H, F, conj_k);
  else
    mul_t<float>(a, k, y, B, H, F, conj_k);
}

void fft_conv_mul_conj_sum(int device, DType dtype, const void* a, const void* c, void* y,
                           int64_t B, int64_t H, int64_t F) {
  SSM_CHECK(cudaSetDevice(device) == cudaSuccess, "fft_conv: cannot select cuda:", device);
  if (dtype == DType::f64)
    mul_conj_sum_t<double>(a, c, y, B, H, F);
  else
    mul_conj_sum_t<float>(a, c, y, B, H, F);
}

}  // namespace ssm::cuda
