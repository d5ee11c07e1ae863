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
#include "ops/dispatch.h"
#include "ops/elementwise_kernel.h"
#include "ops/op_info.h"

namespace ssm {

// ---- operand layouts (shared with the CUDA table) -----------------------------------------------

namespace matmul_layout {

namespace {

std::optional<BlasMat> blas_layout(int64_t rows, int64_t cols, int64_t s0, int64_t s1) {
  if ((cols == 1 || s1 == 1) && (rows == 1 || s0 >= std::max<int64_t>(cols, 1)))
    return BlasMat{false, rows == 1 ? std::max<int64_t>(cols, 1) : s0};
  if ((rows == 1 || s0 == 1) && (cols == 1 || s1 >= std::max<int64_t>(rows, 1)))
    return BlasMat{true, cols == 1 ? std::max<int64_t>(rows, 1) : s1};
  return std::nullopt;
}

}  // namespace

std::optional<BlasMat> blas_layout(const Tensor& t) {
  int n = t.dim();
  return blas_layout(t.size(n - 2), t.size(n - 1), t.stride(n - 2), t.stride(n - 1));
}

Tensor blas_ready(const Tensor& t) { return blas_layout(t) ? t : t.contiguous(); }

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

Tensor last2(const Tensor& t) {
  return make_view(t, {t.size(-2), t.size(-1)}, {t.stride(-2), t.stride(-1)}, t.offset());
}

}  // namespace matmul_layout

using namespace matmul_layout;

namespace {

// ---- the CPU GEMM layer (OpenBLAS) ----------------------------------------------------------

void check_blas_size(int64_t v, const char* op) {
  SSM_CHECK(v <= INT_MAX, op, ": a matrix dim or leading dim of ", v,
            " exceeds what OpenBLAS (32-bit int) accepts");
}

// C = op(A) op(B) + beta C, row-major.
template <class T>
void gemm(BlasMat a, BlasMat b, int64_t M, int64_t N, int64_t K, const T* A, const T* B, T beta,
          T* C, int64_t ldc) {
  auto ta = a.trans ? CblasTrans : CblasNoTrans, tb = b.trans ? CblasTrans : CblasNoTrans;
  // A decoding step's products take a microsecond or two: threads would cost more than they save.
  BlasThreadLimit limit(blas_threads_for(M * N * K));
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

// ---- CPU kernels ----------------------------------------------------------------------------

// The batched product on OpenBLAS; bf16 / f16 multiply in float32 and round once.
Tensor cpu_product(const Tensor& a, const Tensor& b, const Shape& target_batch, const char* op,
                   bool f32_out) {
  DType dt = a.dtype();
  if (dt != DType::f32 && dt != DType::f64) {  // bf16 / f16: multiply in float32, round once
    Tensor r = cpu_product(a.to(DType::f32), b.to(DType::f32), target_batch, op, false);
    return f32_out ? r : r.to(dt);
  }
  Tensor A = blas_ready(a), B = blas_ready(b);
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

// bf16 / f16: the GEMM and the bias add in float32, rounded once.
Tensor cpu_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  Tensor X = x, w = weight, b = bias;
  DType dt = x.dtype(), cdt = compute_dtype(dt);
  if (cdt != dt) {
    X = X.to(cdt);
    w = w.to(cdt);
    if (b.defined()) b = b.to(cdt);
  }
  Tensor Y = Tensor::empty(with_matrix(batch_of(X), X.size(-2), w.size(0)), cdt);
  if (cdt == DType::f32)
    linear_kernel<float>(X, w, b, Y);
  else
    linear_kernel<double>(X, w, b, Y);
  return cdt != dt ? Y.to(dt) : Y;
}

Tensor cpu_bias_grad(const Tensor& g) { return sum_kernel(g, (1u << (g.dim() - 1)) - 1, false); }

const MatmulKernels kCpuKernels = {floating_dtypes, cpu_product, cpu_linear, cpu_bias_grad,
                                   nullptr};
SSM_REGISTER_KERNELS(MatmulKernels, cpu, kCpuKernels);

// ---- shared by the ops --------------------------------------------------------------------------

void check_operands(const Tensor& a, const Tensor& b, const char* op, const char* an,
                    const char* bn) {
  check_defined(a, op, an);
  check_defined(b, op, bn);
  check_same_device(a, b, op);
  SSM_CHECK(is_floating(a.dtype()), op, ": ", an, " must be a floating tensor, got ", describe(a));
  SSM_CHECK(a.dtype() == b.dtype(), op, ": ", an, " and ", bn, " must have the same dtype, got ",
            describe(a), " and ", describe(b));
}

// k.product without autograd history (see MatmulKernels::product).
Tensor product(const MatmulKernels& k, const Tensor& A, const Tensor& B, const Shape& target_batch,
               const char* op, bool f32_out = false) {
  NoGradGuard ng;
  return k.product(A, B, target_batch, op, f32_out);
}

Tensor mT(const Tensor& t) { return t.transpose(-2, -1); }

}  // namespace

// ---- matmul -------------------------------------------------------------------------------------

// Forward: 1-D operands are promoted ((K) -> (1, K) for a, (K) -> (K, 1) for b) and the batched
// product runs on the promoted views; the added dims are left out of the result's shape.
// Backward on the promoted views: dA = g B^T, dB = A^T g, each summed to its operand's batch.
Tensor matmul(const Tensor& a, const Tensor& b) {
  check_operands(a, b, "matmul", "a", "b");
  const MatmulKernels& k = kernels<MatmulKernels>("matmul", a);
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
  Tensor C = product(k, A, B, batch, "matmul");
  Shape out_shape = batch;
  if (!a_vec) out_shape.push_back(A.size(-2));
  if (!b_vec) out_shape.push_back(B.size(-1));
  Tensor out = make_view(C, out_shape, contiguous_strides(out_shape), 0);
  if (needs_grad({a, b})) {
    Saved sa(a), sb(b);
    Shape c_shape = C.shape();
    record(OpId::matmul, {a, b}, out, [sa, sb, a_vec, b_vec, c_shape, &k](Grads& g) {
      const Tensor &av = sa.get(), &bv = sb.get();
      Tensor A = a_vec ? av.unsqueeze(0) : av, B = b_vec ? bv.unsqueeze(-1) : bv;
      Tensor go = g.out[0].dtype() == av.dtype() ? g.out[0] : g.out[0].to(av.dtype());
      Tensor G = go.reshape(c_shape);
      if (g.needs(0)) g.in[0] = product(k, G, mT(B), batch_of(A), "matmul").view(av.shape());
      if (g.needs(1)) g.in[1] = product(k, mT(A), G, batch_of(B), "matmul").view(bv.shape());
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
  const MatmulKernels& k = kernels<MatmulKernels>("linear", x);
  Shape out_shape = x.shape();
  out_shape[out_shape.size() - 1] = O;
  Tensor y;
  {
    NoGradGuard ng;
    Tensor X = as_matrices(x), b = bias.defined() ? bias.detach() : Tensor();
    Tensor Y = k.linear(X, weight.detach(), b);
    y = make_view(Y, out_shape, contiguous_strides(out_shape), 0);
  }
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight);
    bool has_bias = bias.defined();
    // A 16-bit cast of a float32 master weight (autocast) gets dW in float32 straight from the
    // GEMM's float32 sums: no rounding to 16 bits, and no cast kernel on the way back.
    const bool dw_f32 = is_16bit_cast_of_f32_leaf(weight);
    record(OpId::linear, {x, weight, bias}, y, [sx, sw, has_bias, dw_f32, &k](Grads& g) {
      const Tensor &xv = sx.get(), &wv = sw.get();
      Tensor go = g.out[0].dtype() == xv.dtype() ? g.out[0] : g.out[0].to(xv.dtype());
      Tensor X = as_matrices(xv);                                             // (batch..., rows, I)
      Tensor G = go.reshape(with_matrix(batch_of(X), X.size(-2), wv.size(0)));  // (batch..., rows, O)
      if (g.needs(0)) {
        // dx added into the gradient the input's other consumers passed back (Grads::prior), in
        // the GEMM's epilogue where the backend has one: Mamba's x_proj input also feeds the
        // scan, whose du it joins.
        const Tensor& acc = g.prior.empty() ? Tensor() : g.prior[0];
        const int64_t rows = G.numel() / std::max<int64_t>(wv.size(0), 1);
        if (k.product_into && acc.defined() && acc.device() == xv.device() &&
            acc.shape() == xv.shape() && G.is_contiguous() &&
            k.product_into(G.view(Shape{rows, wv.size(0)}), wv,
                           acc.view(Shape{rows, wv.size(1)}))) {
          g.in[0] = acc;
        } else {
          g.in[0] = product(k, G, wv, batch_of(X), "linear").view(xv.shape());
        }
      }
      if (g.needs(1)) g.in[1] = product(k, mT(G), X, {}, "linear", dw_f32);
      if (has_bias && g.needs(2)) g.in[2] = k.bias_grad(go);
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

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/matmul.py). The layout cases
// (transposed operands go to BLAS as CblasTrans, strided ones are copied) exist only here: the
// fixtures store contiguous inputs. ------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// A (rows, cols) view with strides (2 cols, 2): neither row-major nor transposed, so copied.
Tensor strided(Generator& g, int64_t rows, int64_t cols) {
  return randn(g, {rows, 2 * cols}).slice(1, 0, 2 * cols, 2);
}

SSM_OP_INFO({.name = "matmul",
             .nodes = {OpId::matmul},
             .run = [](const Tensors& in, const json&) { return Tensors{matmul(in[0], in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"2-d", {randn(g, {3, 4}), randn(g, {4, 5})}},
                   {"dot", {randn(g, {4}), randn(g, {4})}},
                   {"matrix-vector", {randn(g, {3, 4}), randn(g, {4})}},
                   {"vector-matrix", {randn(g, {4}), randn(g, {4, 5})}},
                   {"batch broadcast", {randn(g, {2, 1, 3, 4}), randn(g, {5, 4, 2})}},
                   {"batched @ 2-d", {randn(g, {2, 3, 4}), randn(g, {4, 5})}},
                   {"2-d @ batched", {randn(g, {3, 4}), randn(g, {2, 4, 5})}},
                   {"vector @ batched", {randn(g, {4}), randn(g, {2, 4, 3})}},
                   {"batched @ vector", {randn(g, {2, 3, 4}), randn(g, {4})}},
                   {"size-1 batch broadcast", {randn(g, {1, 3, 4}), randn(g, {3, 4, 2})}},
                   {"transposed operands", {noncontig(randn(g, {3, 4})), noncontig(randn(g, {2, 4, 5}))}},
                   {"strided operands", {strided(g, 3, 4), strided(g, 4, 2)}},
                   {"1 x 1 result", {randn(g, {1, 5}), randn(g, {5, 1})}},
               };
             }});

SSM_OP_INFO({.name = "bmm",
             .nodes = {OpId::matmul},
             .run = [](const Tensors& in, const json&) { return Tensors{bmm(in[0], in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"contiguous", {randn(g, {2, 3, 4}), randn(g, {2, 4, 5})}},
                   {"transposed", {noncontig(randn(g, {3, 2, 4})), noncontig(randn(g, {3, 4, 3}))}},
               };
             }});

SSM_OP_INFO({.name = "linear",
             .nodes = {OpId::linear},
             .run = [](const Tensors& in, const json&) {
               return Tensors{in.size() > 2 ? linear(in[0], in[1], in[2]) : linear(in[0], in[1])};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"3-d input, bias", {randn(g, {2, 3, 4}), randn(g, {5, 4}), randn(g, {5})}},
                   {"2-d, no bias", {randn(g, {3, 4}), randn(g, {5, 4})}},
                   {"1-d input", {randn(g, {4}), randn(g, {3, 4}), randn(g, {3})}},
                   {"transposed input and weight",
                    {noncontig(randn(g, {5, 4})), noncontig(randn(g, {3, 4})), randn(g, {3})}},
                   {"3-d input that cannot be flattened in place",
                    {noncontig(randn(g, {2, 3, 4})), randn(g, {2, 4})}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
