// Loads and stores of any floating dtype for the dense ops' kernels (device code only).
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "core/dtype.h"

namespace ssm::cuda {

// p[i] of dtype dt, converted to C.
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
