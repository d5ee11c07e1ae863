// Matrix products on OpenBLAS: matmul, bmm, linear, with their backward beside each forward.
#include "ops/matmul.h"

#include <cblas.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <optional>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/reduce_to.h"
#include "ops/elementwise_kernel.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/matmul_cuda.h"
#endif

namespace ssm {

namespace {

void check_cpu(const Tensor& t, const char* op) {
#ifdef SSM_WITH_CUDA
  (void)t;
  (void)op;
#else
  SSM_CHECK(t.device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(t));
#endif
}

void check_operands(const Tensor& a, const Tensor& b, const char* op, const char* an,
                    const char* bn) {
  check_defined(a, op, an);
  check_defined(b, op, bn);
  check_same_device(a, b, op);
  check_cpu(a, op);
  SSM_CHECK(is_floating(a.dtype()), op, ": ", an, " must be a floating tensor, got ", describe(a));
  SSM_CHECK(a.dtype() == b.dtype(), op, ": ", an, " and ", bn, " must have the same dtype, got ",
            describe(a), " and ", describe(b));
}

// ---- the GEMM layer -------------------------------------------------------------------------

// How BLAS reads a (rows, cols) view: row-major with leading dim `ld`, or the transpose of a
// row-major (cols, rows) matrix.
struct BlasMat {
  bool trans;
  int64_t ld;
};

std::optional<BlasMat> blas_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if ((cols == 1 || s1 == 1) && (rows == 1 || s0 >= std::max<int64_t>(cols, 1)))
    return BlasMat{false, rows == 1 ? std::max<int64_t>(cols, 1) : s0};
  if ((rows == 1 || s0 == 1) && (cols == 1 || s1 >= std::max<int64_t>(rows, 1)))
    return BlasMat{true, cols == 1 ? std::max<int64_t>(rows, 1) : s1};
  return std::nullopt;
}

std::optional<BlasMat> blas_layout(const Tensor& t) {
  int n = t.dim();
  return blas_layout(t.size(n - 2), t.size(n - 1), t.stride(n - 2), t.stride(n - 1));
}

// `t` (..., rows, cols) itself when BLAS can read its matrices in place, else a contiguous copy.
Tensor blas_ready(const Tensor& t) { return blas_layout(t) ? t : t.contiguous(); }

void check_blas_size(int64_t v, const char* op) {
  SSM_CHECK(v <= INT_MAX, op, ": a matrix dim or leading dim of ", v,
            " exceeds what OpenBLAS (32-bit int) accepts");
}

// C = op(A) op(B) + beta C, row-major.
template <class T>
void gemm(BlasMat a, BlasMat b, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T beta,
          T* C, int64_t ldc) {
  auto ta = a.trans ? CblasTrans : CblasNoTrans, tb = b.trans ? CblasTrans : CblasNoTrans;
  // A row or a column of C is a matrix-vector product: gemv reads the matrix once, where sgemm
  // would first pack it (most of the time of a decoding step, which is all M = 1 products).
  // C is zeroed first unless accumulating, so beta is always 1 and a NaN in C cannot leak in.
  if (M == 1 || N == 1) {
    if (beta == T(0)) {
      if (M == 1)
        std::fill(C, C + N, T(0));
      else
        for (int64_t i = 0; i < M; ++i) C[i * ldc] = T(0);
    }
    auto gemv = [](CBLAS_TRANSPOSE t, int64_t rows, int64_t cols, const T* Mat, int64_t ld, const T* x,
                   int64_t incx, T* y, int64_t incy) {
      if constexpr (std::is_same_v<T, float>)
        cblas_sgemv(CblasRowMajor, t, int(rows), int(cols), 1.0f, Mat, int(ld), x, int(incx), 1.0f, y, int(incy));
      else
        cblas_dgemv(CblasRowMajor, t, int(rows), int(cols), 1.0, Mat, int(ld), x, int(incx), 1.0, y, int(incy));
    };
    if (M == 1) {
      // C[0, :] = op(B)^T a, a = row 0 of op(A): stride a.ld when A is stored transposed.
      int64_t incx = a.trans ? a.ld : 1;
      if (b.trans)
        gemv(CblasNoTrans, N, K, B, b.ld, A, incx, C, 1);  // B stored (N, K)
      else
        gemv(CblasTrans, K, N, B, b.ld, A, incx, C, 1);    // B stored (K, N)
    } else {
      // C[:, 0] = op(A) b, b = column 0 of op(B): stride b.ld unless B is stored transposed.
      int64_t incx = b.trans ? 1 : b.ld;
      if (a.trans)
        gemv(CblasTrans, K, M, A, a.ld, B, incx, C, ldc);    // A stored (K, M)
      else
        gemv(CblasNoTrans, M, K, A, a.ld, B, incx, C, ldc);  // A stored (M, K)
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>)
    cblas_sgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), 1.0f, A, int(a.ld), B, int(b.ld),
                beta, C, int(ldc));
  else
    cblas_dgemm(CblasRowMajor, ta, tb, int(M), int(N), int(K), 1.0, A, int(a.ld), B, int(b.ld),
                beta, C, int(ldc));
}

// `t` (batch..., rows, cols) viewed as one matrix with the batch dims folded into dim `into`
// (rows: -2, cols: -1; the batch index is the major part), when the strides allow it.
std::optional<Tensor> fold_batch(const Tensor& t, int into) {
  int nb = t.dim() - 2, d_into = t.dim() + into;
  int64_t size = 1, stride = t.stride(d_into);
  int64_t expect = -1;  // stride the next outer dim must have; -1 while no dim of size > 1 seen
  for (int d = d_into; d >= 0; d = d == d_into ? nb - 1 : d - 1) {
    if (t.size(d) != 1) {
      if (expect >= 0 && t.stride(d) != expect) return std::nullopt;
      if (expect < 0) stride = t.stride(d);
      expect = t.stride(d) * t.size(d);
      size *= t.size(d);
    }
    if (d == 0) break;
  }
  Shape shape{t.size(-2), t.size(-1)}, strides{t.stride(-2), t.stride(-1)};
  shape[into + 2] = size;
  strides[into + 2] = stride;
  return make_view(t, shape, strides, t.offset());
}

bool batch_strides_zero(const Tensor& t) {
  for (int d = 0; d < t.dim() - 2; ++d)
    if (t.size(d) != 1 && t.stride(d) != 0) return false;
  return true;
}

// Leading dim of a row-major result matrix c (rows, cols).
int64_t ld_of(const Tensor& c) {
  return c.size(0) == 1 ? std::max<int64_t>(c.size(1), 1) : c.stride(0);
}

bool row_major(const Tensor& c) {
  return (c.size(1) == 1 || c.stride(1) == 1) && (c.size(0) == 1 || c.stride(0) >= c.size(1));
}

// C[i] = A[i] B[i] for every batch index i. A (batch..., M, K), B (batch..., K, N) and
// C (batch..., M, N) have one batch shape; A and B are BLAS-readable (blas_ready) and may be
// broadcast (stride 0). C's matrices are row-major; where C has stride 0 on a batch dim, the
// products sharing a C matrix are summed into it in batch order. With `accumulate`, C += A B.
template <class T>
void gemm_batched(const Tensor& A, const Tensor& B, const Tensor& C, bool accumulate,
                  const char* op) {
  int nb = C.dim() - 2;
  int64_t M = C.size(-2), N = C.size(-1), K = A.size(-1);
  int64_t nbatch = 1;
  for (int d = 0; d < nb; ++d) nbatch *= C.size(d);
  if (M == 0 || N == 0 || nbatch == 0 || K == 0) return;  // callers zero C for empty sums
  for (int64_t v : {M, N, K}) check_blas_size(v, op);
  T beta0 = accumulate ? T(1) : T(0);

  auto gemm2d = [&](const Tensor& a, const Tensor& b, const Tensor& c, T beta) {
    BlasMat la = *blas_layout(a), lb = *blas_layout(b);
    int64_t ldc = ld_of(c);
    for (int64_t v : {a.size(0), a.size(1), la.ld, lb.ld, ldc}) check_blas_size(v, op);
    gemm<T>(la, lb, c.size(0), c.size(1), a.size(1), static_cast<const T*>(a.raw_data()),
            static_cast<const T*>(b.raw_data()), beta, static_cast<T*>(c.raw_data()), ldc);
  };
  auto last2 = [](const Tensor& t) {
    return make_view(t, {t.size(-2), t.size(-1)}, {t.stride(-2), t.stride(-1)}, t.offset());
  };

  // Whole batches as one GEMM: a shared B with the batch folded into the rows of A and C (the
  // x (..., K) @ W case), or a shared C with the batch folded into the contracted dim (dW = g^T x).
  if (nbatch == 1 || batch_strides_zero(B)) {
    auto a = fold_batch(A, -2), c = fold_batch(C, -2);
    if (a && c && blas_layout(*a) && row_major(*c)) {
      gemm2d(*a, last2(B), *c, beta0);
      return;
    }
  }
  if (batch_strides_zero(C)) {
    auto a = fold_batch(A, -1), b = fold_batch(B, -2);
    if (a && b && blas_layout(*a) && blas_layout(*b)) {
      gemm2d(*a, *b, last2(C), beta0);
      return;
    }
  }

  // One GEMM per batch index; the matrix layouts are the same for every index.
  Tensor a0 = last2(A), b0 = last2(B), c0 = last2(C);
  BlasMat la = *blas_layout(a0), lb = *blas_layout(b0);
  int64_t ldc = ld_of(c0);
  for (int64_t v : {la.ld, lb.ld, ldc}) check_blas_size(v, op);
  const T* pa = static_cast<const T*>(A.raw_data());
  const T* pb = static_cast<const T*>(B.raw_data());
  T* pc = static_cast<T*>(C.raw_data());
  // The batch index i as offsets into A, B, C; the first product summed into a C matrix (all
  // its stride-0 batch indices 0) overwrites it, later ones add to it.
  auto one = [&](int64_t i) {
    int64_t oa = 0, ob = 0, oc = 0;
    bool first = true;
    for (int d = nb - 1; d >= 0; --d) {
      int64_t k = i % C.size(d);
      i /= C.size(d);
      oa += k * A.stride(d);
      ob += k * B.stride(d);
      oc += k * C.stride(d);
      first &= C.stride(d) != 0 || k == 0;
    }
    gemm<T>(la, lb, M, N, K, pa + oa, pb + ob, first ? beta0 : T(1), pc + oc, ldc);
  };
  // One product at a time, OpenBLAS threading each. Spreading small products over OpenMP
  // threads instead was measured 6x slower (bench/matmul_bench.cpp, BM_matmul_batched_*: 1024
  // products of 32^3 on 2 cores): concurrent calls contend inside OpenBLAS.
  for (int64_t i = 0; i < nbatch; ++i) one(i);
}

Shape batch_of(const Tensor& t) {
  Shape s;
  for (int d = 0; d < t.dim() - 2; ++d) s.push_back(t.size(d));
  return s;
}

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}


#ifdef SSM_WITH_CUDA
// ---- CUDA: the same products through cuBLASLt / cuBLAS (ops/cuda/matmul.cu) ------------------

Tensor last2(const Tensor& t) {
  return make_view(t, {t.size(-2), t.size(-1)}, {t.stride(-2), t.stride(-1)}, t.offset());
}

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

// product() on the device; `bias` (N, contiguous) is added to every row (linear's forward).
// Shapes that fold into one GEMM run as one; a batch whose operands each step by one stride runs
// as one strided-batched GEMM; anything else as one GEMM per batch index. Sums over broadcast
// batch dims of 16-bit operands are kept in float32 and rounded once; with f32_out they are not
// rounded at all (the result is float32).
Tensor product_cuda(Tensor A, Tensor B, const Shape& target_batch, const char* op,
                    const Tensor& bias = Tensor(), bool f32_out = false) {
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
#endif

#ifdef SSM_WITH_CUDA
// into += A B for 2-D A (M, K) and B (K, N) on the device, into (M, N) contiguous in A's dtype,
// as one GEMM accumulating in its epilogue (one rounding of the sum). False (nothing done) where
// the operands do not take that one GEMM.
bool product_into_cuda(Tensor A, Tensor B, const Tensor& into) {
  if (A.dim() != 2 || B.dim() != 2 || A.dtype() == DType::f64 || into.dtype() != A.dtype() ||
      !into.is_contiguous() || into.shape() != Shape{A.size(0), B.size(1)} || A.size(1) == 0 ||
      into.numel() == 0)
    return false;
  A = blas_ready(A);
  B = blas_ready(B);
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
#endif

// sum over the broadcast batch of A[i] B[i], as a new tensor of shape target_batch + (M, N),
// where target_batch is the full batch shape (forward) or an operand's batch shape (backward:
// the batch dims that operand was broadcast on are summed). A, B: no autograd history. f32_out:
// 16-bit operands give a float32 result (their float32 sums, not rounded).
Tensor product(Tensor A, Tensor B, const Shape& target_batch, const char* op,
               bool f32_out = false) {
  NoGradGuard ng;
#ifdef SSM_WITH_CUDA
  if (A.device().is_cuda()) return product_cuda(A, B, target_batch, op, Tensor(), f32_out);
#endif
  DType dt = A.dtype();
  if (dt != DType::f32 && dt != DType::f64) {  // bf16 / f16: multiply in float32, round once
    Tensor r = product(A.to(DType::f32), B.to(DType::f32), target_batch, op);
    return f32_out ? r : r.to(dt);
  }
  A = blas_ready(A);
  B = blas_ready(B);
  Shape full = broadcast_shapes(batch_of(A), batch_of(B), op);
  full = broadcast_shapes(full, target_batch, op);
  int64_t M = A.size(-2), K = A.size(-1), N = B.size(-1);
  Shape out_shape = with_matrix(target_batch, M, N);
  bool empty_sum = K == 0 || Shape(full).numel() == 0;
  Tensor R = empty_sum ? Tensor::zeros(out_shape, dt) : Tensor::empty(out_shape, dt);
  Tensor Ae = broadcast_view(A, with_matrix(full, M, K));
  Tensor Be = broadcast_view(B, with_matrix(full, K, N));
  Tensor Ce = broadcast_view(R, with_matrix(full, M, N));
  if (dt == DType::f32)
    gemm_batched<float>(Ae, Be, Ce, false, op);
  else
    gemm_batched<double>(Ae, Be, Ce, false, op);
  return R;
}

Tensor mT(const Tensor& t) { return t.transpose(-2, -1); }

}  // namespace

// ---- matmul -------------------------------------------------------------------------------------

// Forward: 1-D operands are promoted ((K) -> (1, K) for a, (K) -> (K, 1) for b) and the batched
// product runs on the promoted views; the added dims are left out of the result's shape.
// Backward on the promoted views: dA = g B^T, dB = A^T g, each summed to its operand's batch.
Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul", "a", "b");
  SSM_CHECK(a.dim() >= 1 && b.dim() >= 1, "matmul: both operands need at least 1 dim, got a ",
            describe(a), " and b ", describe(b));
  bool a_vec = a.dim() == 1, b_vec = b.dim() == 1;
  Tensor A = a_vec ? a.detach().unsqueeze(0) : a.detach();
  Tensor B = b_vec ? b.detach().unsqueeze(-1) : b.detach();
  SSM_CHECK(A.size(-1) == B.size(-2), "matmul: cannot multiply a of shape ", a.shape(),
            " by b of shape ", b.shape(), ": the contracted dims differ (", A.size(-1), " vs ",
            B.size(-2), ")");
  Shape ab = batch_of(A), bb = batch_of(B);
  int nb = std::max(ab.size(), bb.size());
  Shape batch;
  for (int i = 0; i < nb; ++i) {
    int ia = i - (nb - ab.size()), ib = i - (nb - bb.size());
    int64_t da = ia >= 0 ? ab[ia] : 1, db = ib >= 0 ? bb[ib] : 1;
    SSM_CHECK(da == db || da == 1 || db == 1, "matmul: the batch dims of a of shape ", a.shape(),
              " and b of shape ", b.shape(), " do not broadcast (", da, " vs ", db, ")");
    batch.push_back(da == 1 ? db : da);
  }
  Tensor C = product(A, B, batch, "matmul");
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(A.size(-2));
  if (!b_vec) out_shape.push_back(B.size(-1));
  Tensor out = make_view(C, out_shape, contiguous_strides(out_shape), 0);
  if (needs_grad({a, b})) {
    Saved sa(a), sb(b);
    Shape c_shape = C.shape();
    record(OpId::matmul, {a, b}, out, [sa, sb, a_vec, b_vec, c_shape](Grads& g) {
      const Tensor &av = sa.get(), &bv = sb.get();
      Tensor A = a_vec ? av.unsqueeze(0) : av, B = b_vec ? bv.unsqueeze(-1) : bv;
      Tensor go = g.out[0].dtype() == av.dtype() ? g.out[0] : g.out[0].to(av.dtype());
      Tensor G = go.reshape(c_shape);
      if (g.needs(0)) g.in[0] = product(G, mT(B), batch_of(A), "matmul").view(av.shape());
      if (g.needs(1)) g.in[1] = product(mT(A), G, batch_of(B), "matmul").view(bv.shape());
    });
  }
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  check_defined(a, "bmm", "a");
  check_defined(b, "bmm", "b");
  SSM_CHECK(a.dim() == 3 && b.dim() == 3, "bmm: expects 3-D tensors (B, M, K) and (B, K, N), got ",
            describe(a), " and ", describe(b));
  SSM_CHECK(a.size(0) == b.size(0), "bmm: batch sizes differ: a of shape ", a.shape(),
            " and b of shape ", b.shape());
  return matmul(a, b);
}

// ---- linear -------------------------------------------------------------------------------------

namespace {

// x (..., I) as matrices (batch..., rows, I) without autograd history: 1-D x is one row.
Tensor as_matrices(const Tensor& x) {
  Tensor d = x.detach();
  return d.dim() == 1 ? d.unsqueeze(0) : d;
}

// Y (batch..., rows, O) = X (batch..., rows, I) W^T (+ bias), all float32 or float64, Y fresh.
// One GEMM when the batch folds into the rows of X (any contiguous x), else one per batch index;
// X and W are read in place in either layout.
template <class T>
void linear_kernel(const Tensor& X, const Tensor& w, const Tensor& bias, Tensor& Y) {
  bool has_bias = bias.defined();
  if (has_bias) {
    // Rows of Y start as the bias; the GEMM then adds X W^T (beta = 1).
    Tensor bc = bias.contiguous();
    const T* bp = static_cast<const T*>(bc.raw_data());
    T* yp = static_cast<T*>(Y.raw_data());
    int64_t O = Y.size(-1), R = O == 0 ? 0 : Y.numel() / O;
    parallel_for(0, R, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(O, 1)),
                 [&](int64_t r0, int64_t r1) {
                   for (int64_t r = r0; r < r1; ++r) std::copy(bp, bp + O, yp + r * O);
                 });
  }
  if (X.size(-1) == 0) {
    if (!has_bias) Y.zero_();
    return;
  }
  Tensor Wt = broadcast_view(blas_ready(w).t(), with_matrix(batch_of(X), w.size(1), w.size(0)));
  gemm_batched<T>(blas_ready(X), Wt, Y, has_bias, "linear");
}

}  // namespace

namespace {

// db = sum over every dim of g but the last.
Tensor bias_grad(const Tensor& go) {
#ifdef SSM_WITH_CUDA
  if (go.device().is_cuda()) {
    int64_t O = go.size(-1), R = O == 0 ? 0 : go.numel() / O;
    Tensor g2 = go.is_contiguous() ? go : go.contiguous();
    Tensor db = Tensor::empty({O}, go.dtype(), go.device());
    cuda::sum_rows(g2.raw_data(), O, db.raw_data(), go.dtype(), R, O, go.device().index);
    return db;
  }
#endif
  return sum_kernel(go, (1u << (go.dim() - 1)) - 1, false);
}

}  // namespace

// y = x W^T + b.  Backward: dx = g W, dW = g^T x (one GEMM over all rows when they fold),
// db = sum_rows g. Saved: x and W as given.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  check_operands(x, weight, "linear", "input", "weight");
  SSM_CHECK(weight.dim() == 2, "linear: weight must be 2-D (out_features, in_features), got ",
            describe(weight));
  SSM_CHECK(x.dim() >= 1, "linear: input must have at least 1 dim (..., in_features), got ",
            describe(x));
  SSM_CHECK(x.size(-1) == weight.size(1), "linear: input of shape ", x.shape(),
            " has ", x.size(-1), " features but weight of shape ", weight.shape(), " expects ",
            weight.size(1));
  int64_t O = weight.size(0);
  if (bias.defined()) {
    check_same_device(x, bias, "linear");
    SSM_CHECK(bias.dtype() == x.dtype(), "linear: bias must have the input's dtype ", x.dtype(),
              ", got ", describe(bias));
    SSM_CHECK(bias.dim() == 1 && bias.size(0) == O, "linear: bias must have shape (", O,
              ",) for weight of shape ", weight.shape(), ", got ", describe(bias));
  }
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = O;
  Tensor y;
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    NoGradGuard ng;
    Tensor X = as_matrices(x), b = bias.defined() ? bias.detach() : Tensor();
    if (b.defined() && b.stride(0) != 1 && O > 1) b = b.contiguous();
    Tensor Y = product_cuda(X, weight.detach().t(), batch_of(X), "linear", b);
    y = make_view(Y, out_shape, contiguous_strides(out_shape), 0);
  } else
#endif
  {
    NoGradGuard ng;
    Tensor X = as_matrices(x), w = weight.detach(), b = bias.defined() ? bias.detach() : Tensor();
    DType dt = x.dtype(), cdt = compute_dtype(dt);
    if (cdt != dt) {  // bf16 / f16: float32 GEMM and bias add, rounded once
      X = X.to(cdt);
      w = w.to(cdt);
      if (b.defined()) b = b.to(cdt);
    }
    Tensor Y = Tensor::empty(with_matrix(batch_of(X), X.size(-2), O), cdt);
    if (cdt == DType::f32)
      linear_kernel<float>(X, w, b, Y);
    else
      linear_kernel<double>(X, w, b, Y);
    if (cdt != dt) Y = Y.to(dt);
    y = make_view(Y, out_shape, contiguous_strides(out_shape), 0);
  }
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight);
    bool has_bias = bias.defined();
    // A 16-bit cast of a float32 master weight (autocast) gets dW in float32 straight from the
    // GEMM's float32 sums: no rounding to 16 bits, and no cast kernel on the way back.
    const bool dw_f32 = is_16bit_cast_of_f32_leaf(weight);
    record(OpId::linear, {x, weight, bias}, y, [sx, sw, has_bias, dw_f32](Grads& g) {
      const Tensor &xv = sx.get(), &wv = sw.get();
      Tensor go = g.out[0].dtype() == xv.dtype() ? g.out[0] : g.out[0].to(xv.dtype());
      Tensor X = as_matrices(xv);                                             // (batch..., rows, I)
      Tensor G = go.reshape(with_matrix(batch_of(X), X.size(-2), wv.size(0)));  // (batch..., rows, O)
      if (g.needs(0)) {
#ifdef SSM_WITH_CUDA
        // dx added into the gradient the input's other consumers passed back (Grads::prior), in
        // the GEMM's epilogue: Mamba's x_proj input also feeds the scan, whose du it joins.
        const Tensor& acc = g.prior.empty() ? Tensor() : g.prior[0];
        const int64_t rows = G.numel() / std::max<int64_t>(wv.size(0), 1);
        if (acc.defined() && acc.device().is_cuda() && acc.shape() == xv.shape() &&
            G.is_contiguous() &&
            product_into_cuda(G.view(Shape{rows, wv.size(0)}), wv, acc.view(Shape{rows, wv.size(1)}))) {
          g.in[0] = acc;
        } else
#endif
          g.in[0] = product(G, wv, batch_of(X), "linear").view(xv.shape());
      }
      if (g.needs(1)) g.in[1] = product(mT(G), X, {}, "linear", dw_f32);
      if (has_bias && g.needs(2)) g.in[2] = bias_grad(go);
    });
  }
  return y;
}

// ---- the float32 GEMM policy on CUDA -----------------------------------------------------------

namespace cuda {

namespace {
int& tf32_flag() {
  static int flag = [] {
    const char* e = std::getenv("SSM_ALLOW_TF32");
    return e && e[0] == '1' ? 1 : 0;
  }();
  return flag;
}
}  // namespace

void set_allow_tf32(bool on) { tf32_flag() = on ? 1 : 0; }
bool allow_tf32() { return tf32_flag() != 0; }

}  // namespace cuda

}  // namespace ssm
