// Loads and stores of a runtime floating or index dtype in a compute type C, for kernels whose
// operands may each have their own dtype (converted with core/dtype.h's rounding, as the CPU).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/dtype.h"
#include "core/error.h"

namespace ssm::cuda {

template <class C>
__device__ __forceinline__ C load_as(const void* p, int64_t i, DType dt) {
  switch (dt) {
    case DType::f32: return C(static_cast<const float*>(p)[i]);
    case DType::f64: return C(static_cast<const double*>(p)[i]);
    case DType::bf16: return C(to_float(static_cast<const bf16*>(p)[i]));
    case DType::f16: return C(to_float(static_cast<const f16*>(p)[i]));
    case DType::i32: return C(static_cast<const int32_t*>(p)[i]);
    case DType::i64: return C(static_cast<const int64_t*>(p)[i]);
    default: return C(static_cast<const bool*>(p)[i]);
  }
}

template <class C>
__device__ __forceinline__ void store_as(void* p, int64_t i, DType dt, C v) {
  switch (dt) {
    case DType::f32: static_cast<float*>(p)[i] = float(v); break;
    case DType::f64: static_cast<double*>(p)[i] = double(v); break;
    case DType::bf16: static_cast<bf16*>(p)[i] = to_bf16(float(v)); break;
    case DType::f16: static_cast<f16*>(p)[i] = to_f16(float(v)); break;
    case DType::i32: static_cast<int32_t*>(p)[i] = int32_t(v); break;
    case DType::i64: static_cast<int64_t*>(p)[i] = int64_t(v); break;
    default: static_cast<bool*>(p)[i] = v != C(0); break;
  }
}

__device__ __forceinline__ int64_t load_index(const void* p, int64_t i, DType dt) {
  return dt == DType::i32 ? int64_t(static_cast<const int32_t*>(p)[i])
                          : static_cast<const int64_t*>(p)[i];
}

// Blocks for a grid-stride loop over n items.
inline unsigned grid_for(int64_t n, int threads = 256) {
  int64_t b = (n + threads - 1) / threads;
  if (b > (int64_t(1) << 20)) b = int64_t(1) << 20;
  return unsigned(b < 1 ? 1 : b);
}

// A device flag that kernels raise; read() copies it back (a synchronising 4-byte read).
struct DeviceFlag {
  int* p = nullptr;
  int device = 0;
  explicit DeviceFlag(int dev) : device(dev) {
    p = static_cast<int*>(alloc(sizeof(int), dev));
    cudaMemsetAsync(p, 0, sizeof(int), ::ssm::cuda::stream());
  }
  ~DeviceFlag() { dealloc(p, device); }
  DeviceFlag(const DeviceFlag&) = delete;
  DeviceFlag& operator=(const DeviceFlag&) = delete;
  bool read() const {
    int v = 0;
    cudaError_t e = cudaMemcpy(&v, p, sizeof(int), cudaMemcpyDeviceToHost);
    SSM_CHECK(e == cudaSuccess, "CUDA error reading a kernel's flag: ", cudaGetErrorString(e));
    return v != 0;
  }
};

}  // namespace ssm::cuda
