// Helpers shared by the GPU benchmark sections (bench/gpu/*.cpp, one binary: ssm_gpu_bench).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "core/tensor.h"

namespace ssm::bench {

inline void ck(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    std::exit(1);
  }
}

// Median of CUDA-event timings of f over `reps` runs after `warmup` runs, in ms.
template <class F>
double median_ms(F&& f, int warmup = 5, int reps = 30) {
  for (int i = 0; i < warmup; ++i) f();
  ck(cudaDeviceSynchronize(), "warm-up");
  cudaEvent_t a, b;
  ck(cudaEventCreate(&a), "event");
  ck(cudaEventCreate(&b), "event");
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    ck(cudaEventRecord(a), "record");
    f();
    ck(cudaEventRecord(b), "record");
    ck(cudaEventSynchronize(b), "sync");
    float t = 0;
    ck(cudaEventElapsedTime(&t, a, b), "elapsed");
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Device-to-device copy of 1 GiB, GB/s counting bytes read plus bytes written.
inline double copy_bandwidth() {
  const size_t n = size_t(1) << 30;
  void *src = nullptr, *dst = nullptr;
  ck(cudaMalloc(&src, n), "cudaMalloc");
  ck(cudaMalloc(&dst, n), "cudaMalloc");
  ck(cudaMemset(src, 1, n), "cudaMemset");
  double ms = median_ms([&] { ck(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToDevice), "copy"); }, 3, 20);
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * double(n) / (ms * 1e-3) / 1e9;
}

// A device tensor filled by tiling a 16 Mi-element random pool (random data, quick to make).
inline Tensor tiled(const Shape& shape, const Tensor& pool) {
  Tensor t = Tensor::empty(shape, pool.dtype(), Device::cuda());
  const size_t total = size_t(t.numel()) * size_t(t.element_size());
  const size_t chunk = size_t(pool.numel()) * size_t(pool.element_size());
  for (size_t off = 0; off < total; off += chunk)
    ck(cudaMemcpy(static_cast<char*>(t.raw_data()) + off, pool.raw_data(),
                  std::min(chunk, total - off), cudaMemcpyHostToDevice),
       "fill");
  return t;
}

inline double gbs(double bytes, double ms) { return bytes / (ms * 1e-3) / 1e9; }

// The sections: each prints its own tables.
void scan_section();   // bench/gpu/scan_bench.cpp
void dense_section();  // bench/gpu/conv_bench.cpp
void optim_section();  // bench/gpu/optim_bench.cpp
void elementwise_section();  // bench/gpu/elementwise_bench.cpp
void model_section();  // bench/gpu/model_bench.cpp
void copy_section();   // bench/gpu/copy_bench.cpp
void s4_section();     // bench/gpu/s4_bench.cpp
void s4d_section();    // bench/gpu/s4d_bench.cpp
void s5_section();     // bench/gpu/s5_bench.cpp

}  // namespace ssm::bench
