// Matrix products: matmul (torch.matmul semantics), bmm, linear. GEMMs run in OpenBLAS.
//
// Dims: M, N = rows of the result and its columns, K = the contracted dim, ... = batch dims
// (broadcast like PyTorch), R = rows of a flattened input, I/O = in/out features of a layer.
//
// Operands of the same floating dtype. float32/float64 run cblas_sgemm/cblas_dgemm directly on
// the operands' memory when their last two dims are row-major or transposed row-major (a
// transpose is passed as CblasTrans, not copied); any other layout is copied first. bfloat16 and
// float16 are converted to float32, multiplied in float32 and rounded once to the input dtype.
//
// Backward (each a GEMM, never a copy of a transposed operand):
//   C = A B:  dA = g B^T, dB = A^T g, each summed over the batch dims its operand was broadcast on.
//   y = x W^T + b:  dx = g W, dW = g^T x (rows of x and g flattened, one GEMM), db = sum_rows g.
#pragma once

#include "core/tensor.h"

namespace ssm {

// torch.matmul:
//   (K) . (K)               -> ()          dot product
//   (M, K) @ (K, N)         -> (M, N)
//   (M, K) @ (K)            -> (M)          b taken as a column (K, 1), then that dim removed
//   (K) @ (K, N)            -> (N)          a taken as a row (1, K), then that dim removed
//   (..., M, K) @ (..., K, N) -> (..., M, N) batch dims broadcast; 1-D operands as above
// Errors name both shapes when the contracted dims differ or the batch dims do not broadcast.
Tensor matmul(const Tensor& a, const Tensor& b);

// Batched product of 3-D tensors with equal batch sizes (no broadcasting), like torch.bmm.
// a: (B, M, K), b: (B, K, N) -> (B, M, N)
Tensor bmm(const Tensor& a, const Tensor& b);

// y = x W^T + b, like torch.nn.functional.linear. `bias` may be an undefined Tensor.
// x: (..., I) (1-D allowed), weight: (O, I), bias: (O) -> (..., O)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

namespace cuda {

// float32 GEMMs on CUDA run in full float32 by default. With TF32 allowed they run on the tensor
// cores with 10-bit mantissa inputs (about 1e-3 relative error, several times faster), like
// torch.backends.cuda.matmul.allow_tf32. The environment variable SSM_ALLOW_TF32=1 sets the
// initial value. bfloat16/float16 GEMMs always use the tensor cores with float32 accumulation.
void set_allow_tf32(bool on);
bool allow_tf32();

}  // namespace cuda

}  // namespace ssm
