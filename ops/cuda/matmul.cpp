// matmul's CUDA kernel table: the products of ops/matmul.cpp through cuBLASLt / cuBLAS
// (ops/cuda/matmul.cu), operands handed over in their stored layouts (a transpose is a flag, not
// a copy).
#include <optional>

#include "core/autograd.h"
#include "ops/cuda/matmul_cuda.h"
#include "ops/dispatch.h"
#include "ops/elementwise_kernel.h"
#include "ops/matmul.h"

namespace ssm {
namespace {

using namespace matmul_layout;

// A BLAS-readable (rows, cols) view as a GEMM operand, `off` elements further on.
cuda::GemmOperand operand(const Tensor& m, int64_t batch_stride, int64_t off = 0) {
  BlasMat l = *blas_layout(m);
  const char* p = static_cast<const char*>(m.raw_data()) + off * m.element_size();
  return {p, l.trans, l.ld, batch_stride};
}

// The single stride that walks t's batch dims in row-major order, when there is one (0 when
// every batch dim is broadcast).
std::optional<int64_t> one_batch_stride(const Tensor& t) {
  int64_t expect = -1, stride = 0;
  for (int d = t.dim() - 3; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (expect >= 0 && t.stride(d) != expect) return std::nullopt;
    if (expect < 0) stride = t.stride(d);
    expect = t.stride(d) * t.size(d);
  }
  return stride;
}

// Element offset of batch index i (row-major over the batch dims) in t.
int64_t batch_offset(const Tensor& t, int64_t i) {
  int64_t off = 0;
  for (int d = t.dim() - 3; d >= 0; --d) {
    off += (i % t.size(d)) * t.stride(d);
    i /= t.size(d);
  }
  return off;
}

// MatmulKernels::product on the device; `bias` (N, contiguous) is added to every row (linear's
// forward). Shapes that fold into one GEMM run as one; a batch whose operands each step by one
// stride runs as one strided-batched GEMM; anything else as one GEMM per batch index. Sums over
// broadcast batch dims of 16-bit operands are kept in float32 and rounded once; with f32_out they
// are not rounded at all (the result is float32).
Tensor product_bias(Tensor A, Tensor B, const Shape& target_batch, const char* op,
                    const Tensor& bias, bool f32_out) {
  DType dt = A.dtype();
  const DType rdt = f32_out && (dt == DType::bf16 || dt == DType::f16) ? DType::f32 : dt;
  Device dev = A.device();
  A = blas_ready(A);
  B = blas_ready(B);
  Shape full = broadcast_shapes(batch_of(A), batch_of(B), op);
  full = broadcast_shapes(full, target_batch, op);
  int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  Shape out_shape = with_matrix(target_batch, M, N);
  Tensor R = Tensor::empty(out_shape, rdt, dev);
  if (R.numel() == 0) return R;
  int64_t nfull = Shape(full).numel();
  if (K == 0 || nfull == 0) {  // empty sums
    if (bias.defined())
      cuda::fill_rows(R.raw_data(), bias.raw_data(), rdt, R.numel() / N, N, dev.index);
    else
      R.zero_();
    return R;
  }
  Tensor Ae = broadcast_view(A, with_matrix(full, M, K));
  Tensor Be = broadcast_view(B, with_matrix(full, K, N));
  cuda::GemmCall c;
  c.device = dev.index;
  c.dtype = dt;
  c.c_dtype = rdt;
  c.N = N;
  c.K = K;
  c.ldc = N;
  c.c = R.raw_data();
  c.bias = bias.defined() ? bias.raw_data() : nullptr;
  if (Shape(target_batch).numel() == nfull) {
    // x (..., K) @ W: the batch folded into the rows of A and C.
    if (nfull == 1 || batch_strides_zero(Be)) {
      auto a = fold_batch(Ae, -2);
      if (a && blas_layout(*a)) {
        c.M = a->size(0);
        c.a = operand(*a, 0);
        c.b = operand(last2(Be), 0);
        cuda::gemm(c);
        return R;
      }
    }
    c.M = M;
    c.c_batch_stride = M * N;
    auto sa = one_batch_stride(Ae), sb = one_batch_stride(Be);
    if (sa && sb) {
      c.batch = nfull;
      c.a = operand(last2(Ae), *sa);
      c.b = operand(last2(Be), *sb);
      cuda::gemm(c);
      return R;
    }
    for (int64_t i = 0; i < nfull; ++i) {
      c.a = operand(last2(Ae), 0, batch_offset(Ae, i));
      c.b = operand(last2(Be), 0, batch_offset(Be, i));
      c.c = static_cast<char*>(R.raw_data()) + i * M * N * R.element_size();
      cuda::gemm(c);
    }
    return R;
  }
  // dW = sum_i A_i^T G_i: one GEMM with the batch folded into the contracted dim.
  c.M = M;
  if (Shape(target_batch).numel() == 1) {
    auto a = fold_batch(Ae, -1), b = fold_batch(Be, -2);
    if (a && b && blas_layout(*a) && blas_layout(*b)) {
      c.K = a->size(1);
      c.a = operand(*a, 0);
      c.b = operand(*b, 0);
      cuda::gemm(c);
      return R;
    }
  }
  // Products summed into their C matrix in batch order.
  bool lowp = rdt == DType::bf16 || rdt == DType::f16;
  Tensor acc = lowp ? Tensor::empty(out_shape, DType::f32, dev) : R;
  Tensor Ce = broadcast_view(acc, with_matrix(full, M, N));
  c.c_dtype = acc.dtype();
  for (int64_t i = 0; i < nfull; ++i) {
    bool first = true;
    for (int64_t d = Ce.dim() - 3, j = i; d >= 0; --d) {
      first &= Ce.stride(d) != 0 || j % Ce.size(d) == 0;
      j /= Ce.size(d);
    }
    c.a = operand(last2(Ae), 0, batch_offset(Ae, i));
    c.b = operand(last2(Be), 0, batch_offset(Be, i));
    c.c = static_cast<char*>(acc.raw_data()) + batch_offset(Ce, i) * acc.element_size();
    c.accumulate = !first;
    cuda::gemm(c);
  }
  if (lowp)
    cuda::cast_from_f32(static_cast<const float*>(acc.raw_data()), R.raw_data(), dt, R.numel(),
                        dev.index);
  return R;
}

Tensor product(const Tensor& A, const Tensor& B, const Shape& target_batch, const char* op,
               bool f32_out) {
  return product_bias(A, B, target_batch, op, Tensor(), f32_out);
}

// The bias is fused as the GEMM's epilogue (a strided bias is made contiguous first).
Tensor linear(const Tensor& X, const Tensor& weight, const Tensor& bias) {
  Tensor b = bias;
  if (b.defined() && b.stride(0) != 1 && weight.size(0) > 1) b = b.contiguous();
  return product_bias(X, weight.t(), batch_of(X), "linear", b, false);
}

Tensor bias_grad(const Tensor& g) {
  int64_t O = g.size(-1), R = O == 0 ? 0 : g.numel() / O;
  Tensor g2 = g.is_contiguous() ? g : g.contiguous();
  Tensor db = Tensor::empty({O}, g.dtype(), g.device());
  cuda::sum_rows(g2.raw_data(), O, db.raw_data(), g.dtype(), R, O, g.device().index);
  return db;
}

// into += A B for 2-D A (M, K) and B (K, N), into (M, N) contiguous in A's dtype, as one GEMM
// accumulating in its epilogue (one rounding of the sum); float64 is declined.
bool product_into(const Tensor& a, const Tensor& b, const Tensor& into) {
  if (a.dim() != 2 || b.dim() != 2 || a.dtype() == DType::f64 || into.dtype() != a.dtype() ||
      !into.is_contiguous() || into.shape() != Shape{a.size(0), b.size(1)} || a.size(1) == 0 ||
      into.numel() == 0)
    return false;
  Tensor A = blas_ready(a), B = blas_ready(b);
  if (!blas_layout(A)) return false;
  cuda::GemmCall c;
  c.device = A.device().index;
  c.dtype = c.c_dtype = A.dtype();
  c.M = A.size(0);
  c.N = B.size(1);
  c.K = A.size(1);
  c.ldc = c.N;
  c.c = into.raw_data();
  c.a = operand(A, 0);
  c.b = operand(B, 0);
  c.accumulate = true;
  cuda::gemm(c);
  return true;
}

const MatmulKernels kCudaKernels = {floating_dtypes, product, linear, bias_grad, product_into};
SSM_REGISTER_KERNELS(MatmulKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
