#include "core/dtype.h"

namespace ssm {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::bf16: return "bfloat16";
    case DType::f16: return "float16";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
    case DType::b8: return "bool";
    case DType::c64: return "complex64";
    case DType::c128: return "complex128";
  }
  return "?";
}

namespace {
// Category rank: bool < integer < floating < complex.
int category(DType t) {
  if (t == DType::b8) return 0;
  if (is_index(t)) return 1;
  if (is_floating(t)) return 2;
  return 3;
}
}  // namespace

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  int ca = category(a), cb = category(b);
  if (ca != cb) return ca > cb ? a : b;
  switch (ca) {
    case 1: return DType::i64;
    case 2:
      if (a == DType::f64 || b == DType::f64) return DType::f64;
      return DType::f32;  // f32 with a 16-bit type, or bf16 with f16
    default: return DType::c128;
  }
}

}  // namespace ssm
