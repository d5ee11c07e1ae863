// CUDA GEMMs for matmul's CUDA table (ops/cuda/matmul.cpp, CUDA builds only): plain-pointer
// launchers over cuBLASLt (float32, bfloat16, float16) and cuBLAS (float64), and the small kernels
// linear needs.
//
// Matrices are described row-major, as matmul_layout::BlasMat (ops/matmul.h): a (rows, cols)
// operand is either row-major with leading dim `ld` (trans = false) or the transpose of a
// row-major (cols, rows) matrix (trans = true); cuBLAS's column-major view is taken inside, so no
// operand is copied.
// Precision: 16-bit operands multiply with float32 accumulation; float32 runs in full float32
// unless ssm::cuda::allow_tf32() (ops/matmul.h); float64 in float64. Legacy default stream.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

struct GemmOperand {
  const void* p = nullptr;
  bool trans = false;
  int64_t ld = 0;
  int64_t batch_stride = 0;  // elements between consecutive batch matrices (0: shared)
};

// C[i] (M, N) = A[i] (M, K) B[i] (K, N) (+ bias[n]) (+ C[i] when accumulate), i < batch.
// A and B have `dtype`; C has c_dtype (the operands' dtype, or float32 for 16-bit operands);
// bias (length N, contiguous, the operands' dtype) is fused as a cuBLASLt BIAS epilogue.
struct GemmCall {
  int device = 0;
  DType dtype = DType::f32;
  int64_t M = 0, N = 0, K = 0, batch = 1;
  GemmOperand a, b;
  void* c = nullptr;
  DType c_dtype = DType::f32;
  int64_t ldc = 0, c_batch_stride = 0;
  bool accumulate = false;
  const void* bias = nullptr;
};
void gemm(const GemmCall& call);

// out (n) in `dtype` from float32 src (n): the rounding of a float32 accumulation.
void cast_from_f32(const float* src, void* out, DType dtype, int64_t n, int device);

// y (R, N) contiguous = bias broadcast over rows (bias contiguous, y's dtype); the K = 0 linear.
void fill_rows(void* y, const void* bias, DType dtype, int64_t R, int64_t N, int device);

// out (N) = sum over the R rows of g (R, N) (row stride ld, unit column stride), summed in
// fixed row blocks combined in order (deterministic); float64 sums for float64, else float32.
void sum_rows(const void* g, int64_t ld, void* out, DType dtype, int64_t R, int64_t N, int device);

}  // namespace ssm::cuda

namespace ssm::cuda {
// The float32 GEMM policy (defined in ops/matmul.cpp, declared for users in ops/matmul.h).
bool allow_tf32();
}  // namespace ssm::cuda
