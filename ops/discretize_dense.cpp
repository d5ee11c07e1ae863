// discretize_dense: ZOH through one block exponential, the generalized bilinear family through
// one solve (ops/discretize_dense.h), and its test-table entry.
#include "ops/discretize_dense.h"

#include <vector>

#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/matrix_exp.h"
#include "ops/op_info.h"
#include "ops/solve.h"

namespace ssm {

namespace {

Shape batch_dims(const Tensor& t, int matrix_dims) {
  Shape s = t.shape();
  s.resize(s.size() - matrix_dims);
  return s;
}

Shape with_last2(Shape s, int64_t rows, int64_t cols) {
  s.push_back(rows);
  s.push_back(cols);
  return s;
}

Tensor eye(int64_t n, DType dtype, Device device) {
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i * n + i)] = 1.0;
  return Tensor::from_vector(v, {n, n}).to(dtype).to(device);
}

}  // namespace

DenseDiscretized discretize_dense(const Tensor& A, const Tensor& B, const Tensor& dt,
                                  LtiDiscretization method, double alpha) {
  const char* op = "discretize_dense";
  check_defined(A, op, "A");
  check_defined(B, op, "B");
  check_defined(dt, op, "dt");
  check_same_device(A, B, op);
  check_same_device(A, dt, op);
  SSM_CHECK(A.dim() >= 2 && A.size(-1) == A.size(-2), op,
            ": A must be a batch of square matrices (..., N, N), got ", describe(A));
  const int64_t N = A.size(-1);
  SSM_CHECK(B.dim() >= 2 && B.size(-2) == N, op, ": B must be (..., N, M) with N = ", N,
            " for A ", describe(A), ", got ", describe(B));
  const int64_t M = B.size(-1);
  SSM_CHECK(A.dtype() == DType::f32 || A.dtype() == DType::f64, op,
            ": A must be float32 or float64, got ", describe(A));
  SSM_CHECK(B.dtype() == A.dtype() && dt.dtype() == A.dtype(), op,
            ": A, B and dt must have one dtype, got A ", describe(A), ", B ", describe(B),
            ", dt ", describe(dt));
  SSM_CHECK(method != LtiDiscretization::generalized_bilinear || (alpha >= 0 && alpha <= 1), op,
            ": alpha must be in [0, 1] (0 backward Euler, 0.5 bilinear, 1 forward Euler), got ",
            alpha);
  Shape batch = broadcast_shapes(broadcast_shapes(batch_dims(A, 2), batch_dims(B, 2), op),
                                 dt.shape(), op);
  Shape dt_shape = dt.shape();
  dt_shape.push_back(1);
  dt_shape.push_back(1);
  Tensor step = dt.reshape(dt_shape);  // (..., 1, 1)
  Tensor dA = mul(A, step).expand(with_last2(batch, N, N));
  Tensor dB = mul(B, step).expand(with_last2(batch, N, M));
  if (method == LtiDiscretization::zoh) {
    Tensor bottom = Tensor::zeros(with_last2(batch, M, N + M), A.dtype(), A.device());
    Tensor E = matrix_exp(cat({cat({dA, dB}, -1), bottom}, -2));
    Tensor top = E.narrow(-2, 0, N);
    return {top.narrow(-1, 0, N), top.narrow(-1, N, M)};
  }
  double a = method == LtiDiscretization::bilinear ? 0.5 : alpha;
  Tensor I = eye(N, A.dtype(), A.device());
  Tensor X = solve(sub(I, mul(dA, 1 - a)), cat({add(I, mul(dA, a)), dB}, -1));
  return {X.narrow(-1, 0, N), X.narrow(-1, N, M)};
}

// ---- test-table entry (PyTorch side: tools/fixtures/discretize_dense.py, the same blocks
// through torch.linalg.matrix_exp and torch.linalg.solve) -------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// Random matrices (..., n, n) with eigenvalues mostly left of -0.5 (0.5 randn - 1.5 I, as a
// state matrix is): I - (1-α) dt A stays far from singular.
Tensor stable(Generator& g, const Shape& shape) {
  int64_t n = shape[shape.size() - 1];
  std::vector<double> v = randn(g, shape).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    v[i] = 0.5 * v[i] - (int64_t(i) / n % n == int64_t(i) % n ? 1.5 : 0.0);
  return Tensor::from_vector(v, shape);
}

json args(const char* method, double alpha = 0.5) {
  return {{"method", method}, {"alpha", alpha}};
}

SSM_OP_INFO({.name = "discretize_dense",
             .nodes = {},  // matrix_exp or solve, by method: each has its own entry
             .run = [](const Tensors& in, const json& a) {
               DenseDiscretized d =
                   discretize_dense(in[0], in[1], in[2], parse_lti_discretization(a.at("method")),
                                    a.at("alpha").get<double>());
               return Tensors{d.A_bar, d.B_bar};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"zoh", {stable(g, {3, 3}), randn(g, {3, 2}), uniform(g, {}, 0.1, 0.5)}, args("zoh")},
                   {"zoh, one dt per channel",
                    {stable(g, {3, 3}), randn(g, {3, 1}), uniform(g, {4}, 0.01, 1)}, args("zoh")},
                   {"zoh, batched A and B",
                    {stable(g, {2, 3, 3}), randn(g, {2, 3, 2}), uniform(g, {2}, 0.1, 0.5)}, args("zoh")},
                   {"bilinear", {stable(g, {3, 3}), randn(g, {3, 2}), uniform(g, {2}, 0.1, 0.5)},
                    args("bilinear")},
                   {"backward Euler", {stable(g, {4, 4}), randn(g, {4, 1}), uniform(g, {}, 0.1, 0.3)},
                    args("generalized_bilinear", 0.0)},
                   {"forward Euler", {stable(g, {4, 4}), randn(g, {4, 1}), uniform(g, {}, 0.1, 0.3)},
                    args("generalized_bilinear", 1.0)},
                   {"generalized bilinear, alpha 0.3",
                    {stable(g, {2, 3, 3}), randn(g, {3, 2}), uniform(g, {2}, 0.1, 0.3)},
                    args("generalized_bilinear", 0.3)},
               };
             },
             .lowp = false});

}  // namespace
}  // namespace testing

}  // namespace ssm
