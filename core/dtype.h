// Element types.
//
// Floating: f32, f64, bf16, f16. Integer: i32, i64. Logical: b8 (one byte, 0 or 1).
// Complex: c64 and c128 are storage dtypes (interleaved real, imaginary pairs, like std::complex).
// Arithmetic on complex values uses the real-pair convention: view_as_real() gives a real tensor
// with a trailing dim of 2 without copying, and the SSM layers that keep complex state (S4, S4D,
// S5) do their complex maths inside their own fused ops. Elementwise ops reject complex inputs
// with an error that says so, instead of silently dropping the imaginary part.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <ostream>

#if defined(__CUDACC__)
#define SSM_HD __host__ __device__ __forceinline__
#else
// Forced: the small maths helpers must inline into the loops that the compiler vectorises.
#define SSM_HD inline __attribute__((always_inline))
#endif

namespace ssm {

enum class DType : uint8_t { f32, f64, bf16, f16, i32, i64, b8, c64, c128 };

inline constexpr DType kAllDTypes[] = {DType::f32, DType::f64, DType::bf16, DType::f16, DType::i32,
                                      DType::i64, DType::b8,  DType::c64,  DType::c128};

constexpr int64_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::bf16: return 2;
    case DType::f16: return 2;
    case DType::i32: return 4;
    case DType::i64: return 8;
    case DType::b8: return 1;
    case DType::c64: return 8;
    case DType::c128: return 16;
  }
  return 0;
}

const char* dtype_name(DType t);  // "float32", "bfloat16", ... as PyTorch spells them
inline std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

constexpr bool is_floating(DType t) {
  return t == DType::f32 || t == DType::f64 || t == DType::bf16 || t == DType::f16;
}
constexpr bool is_integral(DType t) { return t == DType::i32 || t == DType::i64 || t == DType::b8; }
constexpr bool is_complex(DType t) { return t == DType::c64 || t == DType::c128; }
constexpr bool is_index(DType t) { return t == DType::i32 || t == DType::i64; }

// The type arithmetic on a floating dtype is done in: f64 for f64, f32 for the rest.
constexpr DType compute_dtype(DType t) { return t == DType::f64 ? DType::f64 : DType::f32; }

// Result type of a binary op between two tensors (PyTorch's category rules, simplified: the
// "higher" category wins; within floats the wider type; bf16 with f16 gives f32).
DType promote_types(DType a, DType b);

// ---- 16-bit floats ----------------------------------------------------------------------------
// Stored as raw bits; converted with round-to-nearest-even. NaN stays NaN (quiet).

struct bf16 {
  uint16_t bits;
};
struct f16 {
  uint16_t bits;
};

SSM_HD uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
SSM_HD float bits_f32(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

SSM_HD float to_float(bf16 h) { return bits_f32(uint32_t(h.bits) << 16); }
SSM_HD bf16 to_bf16(float f) {
  uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return bf16{uint16_t((u >> 16) | 0x40)};  // quiet NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return bf16{uint16_t(u >> 16)};
}

SSM_HD float to_float(f16 h) {
  uint32_t sign = uint32_t(h.bits & 0x8000u) << 16;
  uint32_t exp = (h.bits >> 10) & 0x1fu;
  uint32_t man = h.bits & 0x3ffu;
  if (exp == 0x1f) return bits_f32(sign | 0x7f800000u | (man << 13));  // inf / nan
  if (exp == 0) {
    if (man == 0) return bits_f32(sign);
    // subnormal: value = man * 2^-24
    float v = float(man) * 5.9604644775390625e-08f;
    return sign ? -v : v;
  }
  return bits_f32(sign | ((exp + 112u) << 23) | (man << 13));
}

SSM_HD f16 to_f16(float f) {
  uint32_t u = f32_bits(f);
  uint16_t sign = uint16_t((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return f16{uint16_t(sign | 0x7e00u)};             // nan
  if (a >= 0x477ff000u) return f16{uint16_t(sign | 0x7c00u)};            // overflow -> inf
  if (a < 0x38800000u) {                                                 // subnormal or zero
    // round a/2^-24 to nearest even integer
    float v = bits_f32(a) * 16777216.0f;  // exact scaling by 2^24
    uint32_t m = uint32_t(v);
    float frac = v - float(m);
    if (frac > 0.5f || (frac == 0.5f && (m & 1u))) ++m;
    return f16{uint16_t(sign | m)};
  }
  uint32_t exp = (a >> 23) - 112u;
  uint32_t man = a & 0x7fffffu;
  uint32_t h = (exp << 10) | (man >> 13);
  uint32_t rest = man & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // may carry into exponent: correct
  return f16{uint16_t(sign | h)};
}

// Load/store between a storage type and its compute type.
template <class T>
struct Scalar {
  using acc = T;
  SSM_HD static acc load(T v) { return v; }
  SSM_HD static T store(acc v) { return v; }
};
template <>
struct Scalar<bf16> {
  using acc = float;
  SSM_HD static float load(bf16 v) { return to_float(v); }
  SSM_HD static bf16 store(float v) { return to_bf16(v); }
};
template <>
struct Scalar<f16> {
  using acc = float;
  SSM_HD static float load(f16 v) { return to_float(v); }
  SSM_HD static f16 store(float v) { return to_f16(v); }
};
template <class T>
using acc_t = typename Scalar<T>::acc;

template <class T>
constexpr DType dtype_of();
template <> constexpr DType dtype_of<float>() { return DType::f32; }
template <> constexpr DType dtype_of<double>() { return DType::f64; }
template <> constexpr DType dtype_of<bf16>() { return DType::bf16; }
template <> constexpr DType dtype_of<f16>() { return DType::f16; }
template <> constexpr DType dtype_of<int32_t>() { return DType::i32; }
template <> constexpr DType dtype_of<int64_t>() { return DType::i64; }
template <> constexpr DType dtype_of<bool>() { return DType::b8; }

}  // namespace ssm

// Dispatch on a runtime dtype to a typed block. Inside the block, `scalar_t` is the storage type.
#define SSM_DISPATCH_CASE(DT, T, ...) \
  case DT: {                          \
    using scalar_t = T;               \
    __VA_ARGS__();                    \
    break;                            \
  }

#define SSM_DISPATCH_FLOAT(dtype, opname, ...)                                                \
  [&] {                                                                                      \
    switch (dtype) {                                                                         \
      SSM_DISPATCH_CASE(::ssm::DType::f32, float, __VA_ARGS__)                               \
      SSM_DISPATCH_CASE(::ssm::DType::f64, double, __VA_ARGS__)                              \
      SSM_DISPATCH_CASE(::ssm::DType::bf16, ::ssm::bf16, __VA_ARGS__)                        \
      SSM_DISPATCH_CASE(::ssm::DType::f16, ::ssm::f16, __VA_ARGS__)                          \
      default:                                                                               \
        ::ssm::detail::fail(opname, ": dtype ", dtype, " is not supported (expected float32, " \
                            "float64, bfloat16 or float16)");                                \
    }                                                                                        \
  }()

#define SSM_DISPATCH_NUMERIC(dtype, opname, ...)                                              \
  [&] {                                                                                      \
    switch (dtype) {                                                                         \
      SSM_DISPATCH_CASE(::ssm::DType::f32, float, __VA_ARGS__)                               \
      SSM_DISPATCH_CASE(::ssm::DType::f64, double, __VA_ARGS__)                              \
      SSM_DISPATCH_CASE(::ssm::DType::bf16, ::ssm::bf16, __VA_ARGS__)                        \
      SSM_DISPATCH_CASE(::ssm::DType::f16, ::ssm::f16, __VA_ARGS__)                          \
      SSM_DISPATCH_CASE(::ssm::DType::i32, int32_t, __VA_ARGS__)                             \
      SSM_DISPATCH_CASE(::ssm::DType::i64, int64_t, __VA_ARGS__)                             \
      default:                                                                               \
        ::ssm::detail::fail(opname, ": dtype ", dtype, " is not supported (expected a real "  \
                            "floating or integer dtype)");                                   \
    }                                                                                        \
  }()

// Every dtype by element size class: used by copies, which move bits only.
#define SSM_DISPATCH_ALL(dtype, opname, ...)                                                  \
  [&] {                                                                                      \
    switch (dtype) {                                                                         \
      SSM_DISPATCH_CASE(::ssm::DType::f32, float, __VA_ARGS__)                               \
      SSM_DISPATCH_CASE(::ssm::DType::f64, double, __VA_ARGS__)                              \
      SSM_DISPATCH_CASE(::ssm::DType::bf16, ::ssm::bf16, __VA_ARGS__)                        \
      SSM_DISPATCH_CASE(::ssm::DType::f16, ::ssm::f16, __VA_ARGS__)                          \
      SSM_DISPATCH_CASE(::ssm::DType::i32, int32_t, __VA_ARGS__)                             \
      SSM_DISPATCH_CASE(::ssm::DType::i64, int64_t, __VA_ARGS__)                             \
      SSM_DISPATCH_CASE(::ssm::DType::b8, bool, __VA_ARGS__)                                 \
      default:                                                                               \
        ::ssm::detail::fail(opname, ": dtype ", dtype, " is not supported");                 \
    }                                                                                        \
  }()
