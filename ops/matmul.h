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

#include <optional>

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

// ---- kernels (ops/dispatch.h): CPU in ops/matmul.cpp, CUDA in ops/cuda/matmul.cpp ------------

// The operand layouts both backends hand to their GEMMs (defined in ops/matmul.cpp).
namespace matmul_layout {

// How BLAS reads a (rows, cols) view: row-major with leading dim `ld`, or the transpose of a
// row-major (cols, rows) matrix.
struct BlasMat {
  bool trans;
  int64_t ld;
};

// t's last two dims as a BLAS matrix, or nullopt when neither layout fits.
std::optional<BlasMat> blas_layout(const Tensor& t);
// `t` (..., rows, cols) itself when BLAS can read its matrices in place, else a contiguous copy.
Tensor blas_ready(const Tensor& t);
// `t` (batch..., rows, cols) viewed as one matrix with the batch dims folded into dim `into`
// (rows: -2, cols: -1; the batch index is the major part), when the strides allow it.
std::optional<Tensor> fold_batch(const Tensor& t, int into);
// Whether every batch dim of t (all but the last two) is broadcast (size 1 or stride 0).
bool batch_strides_zero(const Tensor& t);
// t's batch dims: all but the last two.
Shape batch_of(const Tensor& t);
// batch + (rows, cols).
Shape with_matrix(Shape batch, int64_t rows, int64_t cols);
// t's last two dims as a 2-D view (batch index 0).
Tensor last2(const Tensor& t);

}  // namespace matmul_layout

// Operands reach the kernels checked (one device, one floating dtype) and without autograd
// history.
struct MatmulKernels {
  bool (*supports)(DType dtype);
  // The sum over the broadcast batch of A[i] B[i], as a new tensor of shape target_batch +
  // (M, N), where target_batch is the full batch shape (matmul's forward) or an operand's batch
  // shape (backward: the batch dims that operand was broadcast on are summed).
  // A: (batch..., M, K), B: (batch..., K, N), any strides. 16-bit operands give a 16-bit result,
  // or with f32_out their float32 sums unrounded.
  Tensor (*product)(const Tensor& A, const Tensor& B, const Shape& target_batch, const char* op,
                    bool f32_out);
  // linear's forward: X (batch..., rows, I) W^T + bias -> (batch..., rows, O), a new contiguous
  // tensor in X's dtype. weight (O, I), bias (O) or undefined.
  Tensor (*linear)(const Tensor& X, const Tensor& weight, const Tensor& bias);
  // linear's bias gradient: db (O) = the sum of g (..., O) over every dim but the last.
  Tensor (*bias_grad)(const Tensor& g);
  // into (M, N) += A (M, K) B (K, N) in one GEMM accumulating in its epilogue (one rounding of
  // the sum; linear's dx added into Grads::prior). False, nothing done, where the operands do not
  // take that one GEMM. Null where the backend has no such epilogue.
  bool (*product_into)(const Tensor& A, const Tensor& B, const Tensor& into);
};

}  // namespace ssm
