// Per-dtype loads and stores for the CUDA kernels of ops/cuda (device code), and small launch
// helpers they share. Two runtime-dtype families, kept apart because they round differently:
//   ld_any / st_any      floating dtypes only, CUDA's conversion intrinsics (the dense ops);
//   load_as / store_as   every real dtype, core/dtype.h's conversions, bit for bit the CPU's
//                        (ops whose operands each have their own dtype: index, cumsum, optim).
// ld_t / st_t are the typed versions for kernels templated on the storage type.
// (selective_scan.cu keeps its own vectorised loads.)
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/dtype.h"
#include "core/error.h"

namespace ssm::cuda {

// p[i] of floating dtype dt (any other reads as f16), converted to C.
template <class C>
__device__ __forceinline__ C ld_any(const void* p, int64_t i, DType dt) {
  switch (dt) {
    case DType::f32: return C(static_cast<const float*>(p)[i]);
    case DType::f64: return C(static_cast<const double*>(p)[i]);
    case DType::bf16:
      return C(__uint_as_float(uint32_t(static_cast<const unsigned short*>(p)[i]) << 16));
    default: return C(__half2float(static_cast<const __half*>(p)[i]));
  }
}

template <class C>
__device__ __forceinline__ void st_any(void* p, int64_t i, DType dt, C v) {
  switch (dt) {
    case DType::f32: static_cast<float*>(p)[i] = float(v); break;
    case DType::f64: static_cast<double*>(p)[i] = double(v); break;
    case DType::bf16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(float(v)); break;
    default: static_cast<__half*>(p)[i] = __float2half_rn(float(v)); break;
  }
}

// Typed versions for kernels templated on the storage type T (float, double, bf16, f16).
template <class T>
__device__ __forceinline__ acc_t<T> ld_t(const T* p, int64_t i) {
  if constexpr (std::is_same_v<T, bf16>) {
    return __uint_as_float(uint32_t(reinterpret_cast<const unsigned short*>(p)[i]) << 16);
  } else if constexpr (std::is_same_v<T, f16>) {
    return __half2float(reinterpret_cast<const __half*>(p)[i]);
  } else {
    return p[i];
  }
}

template <class T>
__device__ __forceinline__ void st_t(T* p, int64_t i, acc_t<T> v) {
  if constexpr (std::is_same_v<T, bf16>) {
    reinterpret_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
  } else if constexpr (std::is_same_v<T, f16>) {
    reinterpret_cast<__half*>(p)[i] = __float2half_rn(v);
  } else {
    p[i] = v;
  }
}

// p[i] of any real dtype dt, converted to C with the CPU's rounding.
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

// Runs the block with `scalar_t` = float, double, ssm::bf16 or ssm::f16 (device-side storage
// types of the same layout as the host's).
#define SSM_CUDA_DISPATCH_FLOAT(dtype, ...)                       \
  [&] {                                                           \
    switch (dtype) {                                              \
      case ::ssm::DType::f32: { using scalar_t = float; __VA_ARGS__(); break; }        \
      case ::ssm::DType::f64: { using scalar_t = double; __VA_ARGS__(); break; }       \
      case ::ssm::DType::bf16: { using scalar_t = ::ssm::bf16; __VA_ARGS__(); break; } \
      default: { using scalar_t = ::ssm::f16; __VA_ARGS__(); break; }                  \
    }                                                                                  \
  }()
