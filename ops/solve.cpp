// solve: the op (checks, broadcasting, one autograd record, the adjoint-solve backward) over
// its kernel tables, the CPU kernels (ops/small_linalg.h, one thread per matrix) and the op's
// test-table entry.
#include "ops/solve.h"

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/op_info.h"
#include "ops/small_linalg.h"

namespace ssm {

namespace {

// ---- CPU kernels ----------------------------------------------------------------------------

template <class C>
int64_t factor_solve_batch(C* lu, int32_t* piv, C* x, int64_t batch, int64_t n, int64_t k) {
  std::vector<uint8_t> singular(static_cast<size_t>(batch), 0);
  parallel_for(0, batch, grain_for_work(n * n * (n + k) + 1), [&](int64_t b0, int64_t b1) {
    linalg::SerialTeam team;
    for (int64_t b = b0; b < b1; ++b) {
      singular[size_t(b)] = linalg::lu_factor(team, n, lu + b * n * n, piv + b * n) != 0;
      linalg::lu_solve(team, n, k, lu + b * n * n, piv + b * n, x + b * n * k);
    }
  });
  for (int64_t b = 0; b < batch; ++b)
    if (singular[size_t(b)]) return b;
  return -1;
}

template <class C>
void solve_transposed_batch(const C* lu, const int32_t* piv, C* x, int64_t batch, int64_t n,
                            int64_t k) {
  parallel_for(0, batch, grain_for_work(n * n * k + 1), [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      linalg::lu_solve_transposed(linalg::SerialTeam{}, n, k, lu + b * n * n, piv + b * n,
                                  x + b * n * k);
  });
}

int64_t cpu_factor_solve(const Tensor& lu, const Tensor& piv, const Tensor& X) {
  int64_t batch = lu.size(0), n = lu.size(1), k = X.size(2);
  if (lu.dtype() == DType::f64)
    return factor_solve_batch(lu.data<double>(), piv.data<int32_t>(), X.data<double>(), batch, n,
                              k);
  return factor_solve_batch(lu.data<float>(), piv.data<int32_t>(), X.data<float>(), batch, n, k);
}

void cpu_solve_transposed(const Tensor& lu, const Tensor& piv, const Tensor& X) {
  int64_t batch = lu.size(0), n = lu.size(1), k = X.size(2);
  if (lu.dtype() == DType::f64)
    solve_transposed_batch(lu.data<double>(), piv.data<int32_t>(), X.data<double>(), batch, n, k);
  else
    solve_transposed_batch(lu.data<float>(), piv.data<int32_t>(), X.data<float>(), batch, n, k);
}

const SolveKernels kCpuKernels = {wide_float_dtypes, cpu_factor_solve, cpu_solve_transposed};
SSM_REGISTER_KERNELS(SolveKernels, cpu, kCpuKernels);

Shape batch_dims(const Tensor& t) {
  Shape s = t.shape();
  s.resize(s.size() - 2);
  return s;
}

Shape with_last2(Shape s, int64_t rows, int64_t cols) {
  s.push_back(rows);
  s.push_back(cols);
  return s;
}

// The solve of matrices A (batch..., n, n) and B (batch..., n, k) of one batch shape.
Tensor solve_matrices(const Tensor& A, const Tensor& B) {
  const char* op = "solve";
  const SolveKernels& kt = kernels<SolveKernels>(op, A);
  const int64_t n = A.size(-1), k = B.size(-1), nb = A.numel() / std::max<int64_t>(n * n, 1);
  Tensor lu, piv, X;
  {
    NoGradGuard ng;
    lu = A.detach().clone();  // factored in place: never A's own memory
    X = B.detach().clone();
    Shape ps = batch_dims(A);
    ps.push_back(n);
    piv = Tensor::empty(ps, DType::i32, A.device());
    if (X.numel() > 0 || lu.numel() > 0) {
      int64_t bad = kt.factor_solve(lu.view({nb, n, n}), piv.view({nb, n}), X.view({nb, n, k}));
      SSM_CHECK(bad < 0, op, ": matrix ", bad, " of A ", describe(A),
                " (counted row-major over the batch dims) is singular: LU found an exactly zero "
                "pivot");
    }
  }
  if (needs_grad({A, B})) {
    Saved slu(lu), spiv(piv), sx(X);
    record(OpId::solve, {A, B}, X, [slu, spiv, sx, nb, n, k, &kt](Grads& g) {
      NoGradGuard ng;
      const Tensor& x = sx.get();
      // dB = A⁻ᵀ G (solved in place in a copy of G), dA = -dB Xᵀ
      Tensor gb = g.out[0].to(x.dtype()).clone();
      if (gb.numel() > 0) kt.solve_transposed(slu.get().view({nb, n, n}), spiv.get().view({nb, n}),
                                              gb.view({nb, n, k}));
      if (g.needs(0)) g.in[0] = neg(matmul(gb, x.transpose(-1, -2)));
      if (g.needs(1)) g.in[1] = gb;
    });
  }
  return X;
}

}  // namespace

// ---- the op ---------------------------------------------------------------------------------

Tensor solve(const Tensor& A, const Tensor& B) {
  const char* op = "solve";
  check_defined(A, op, "A");
  check_defined(B, op, "B");
  check_same_device(A, B, op);
  SSM_CHECK(A.dim() >= 2 && A.size(-1) == A.size(-2), op,
            ": A must be a batch of square matrices (..., n, n), got ", describe(A));
  SSM_CHECK(B.dtype() == A.dtype(), op, ": B must have A's dtype ", A.dtype(), ", got ",
            describe(B));
  const int64_t n = A.size(-1);
  // torch.linalg.solve's rule: B is a vector when 1-D or shaped like A without its last dim.
  Shape a_rows = A.shape();
  a_rows.resize(a_rows.size() - 1);
  if (B.dim() == 1 || B.shape() == a_rows) {
    SSM_CHECK(B.size(-1) == n, op, ": B (a vector) must have ", n, " entries for A ", describe(A),
              ", got ", describe(B));
    return solve(A, B.unsqueeze(-1)).squeeze(-1);
  }
  SSM_CHECK(B.dim() >= 2 && B.size(-2) == n, op, ": B must be (..., n, k) or a vector (n) with n = ",
            n, " for A ", describe(A), ", got ", describe(B));
  Shape batch = broadcast_shapes(batch_dims(A), batch_dims(B), op);
  Shape a_shape = with_last2(batch, n, n), b_shape = with_last2(batch, n, B.size(-1));
  // Broadcast as views: expand's own backward sums each gradient back to its input's shape.
  return solve_matrices(A.shape() == a_shape ? A : A.expand(a_shape),
                        B.shape() == b_shape ? B : B.expand(b_shape));
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/solve.py, torch.linalg.solve) ---

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// Random matrices (..., n, n) with n added on the diagonal: well conditioned, so that float32
// and the finite differences of the gradcheck stay accurate.
Tensor well_conditioned(Generator& g, const Shape& shape) {
  int64_t n = shape[shape.size() - 1];
  std::vector<double> v = randn(g, shape).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    if (int64_t(i) / n % n == int64_t(i) % n) v[i] += double(n);
  return Tensor::from_vector(v, shape);
}

// The same with its rows in reverse order: the largest entry of each column is off the diagonal,
// so LU must exchange rows (and the backward undo them).
Tensor needs_pivoting(Generator& g, const Shape& shape) {
  int64_t n = shape[shape.size() - 1];
  std::vector<double> v = well_conditioned(g, shape).to_vector<double>(), r(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t row = int64_t(i) / n % n, base = int64_t(i) - (int64_t(i) % (n * n));
    r[size_t(base + (n - 1 - row) * n + int64_t(i) % n)] = v[i];
  }
  return Tensor::from_vector(r, shape);
}

SSM_OP_INFO({.name = "solve",
             .nodes = {OpId::solve},
             .run = [](const Tensors& in, const json&) { return Tensors{solve(in[0], in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"3x3, 2 right-hand sides", {well_conditioned(g, {3, 3}), randn(g, {3, 2})}},
                   {"vector", {well_conditioned(g, {4, 4}), randn(g, {4})}},
                   {"batched", {well_conditioned(g, {2, 3, 3}), randn(g, {2, 3, 2})}},
                   {"batched vectors", {well_conditioned(g, {2, 3, 3}), randn(g, {2, 3})}},
                   {"A broadcast over B's batch", {well_conditioned(g, {3, 3}), randn(g, {2, 3, 1})}},
                   {"both broadcast", {well_conditioned(g, {2, 1, 3, 3}), randn(g, {4, 3, 2})}},
                   {"1x1", {well_conditioned(g, {1, 1}), randn(g, {1, 3})}},
                   {"non-contiguous A", {noncontig(well_conditioned(g, {4, 4})), randn(g, {4, 3})}},
                   {"row exchanges", {needs_pivoting(g, {2, 4, 4}), randn(g, {2, 4, 2})}},
               };
             },
             .lowp = false});

}  // namespace
}  // namespace testing

}  // namespace ssm
