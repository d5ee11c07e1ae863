// matrix_exp, solve and discretize_dense on CUDA against the float64 CPU ops, at shapes the op
// table does not reach: matrices larger than one pass of the block's threads (n² > 256), many
// matrices, row exchanges, norms that need squarings, float32; and a singular matrix reported
// from the device.
#include "ops/discretize_dense.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/matrix_exp.h"
#include "ops/solve.h"
#include "support/errors.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using SmallLinalgCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed, double scale = 1.0) {
  Generator g(seed);
  return mul(Tensor::randn(s, DType::f64, &g), scale);
}

// Random matrices with n added on the diagonal, rows reversed (so LU exchanges them).
Tensor pivoted(const Shape& s, uint64_t seed) {
  int64_t n = s[s.size() - 1];
  std::vector<double> v = rn(s, seed).to_vector<double>(), r(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    int64_t row = int64_t(i) / n % n, col = int64_t(i) % n, base = int64_t(i) - int64_t(i) % (n * n);
    r[size_t(base + (n - 1 - row) * n + col)] = v[i] + (row == col ? double(n) : 0.0);
  }
  return Tensor::from_vector(r, s);
}

// float32: products of n terms, and up to a few squarings for matrix_exp.
Tol tol_for(DType dt) { return dt == DType::f64 ? Tol{1e-10, 1e-9} : Tol{2e-4, 2e-4, 5e-5}; }

TEST_F(SmallLinalgCuda, MatrixExp) {
  auto expm = [](const std::vector<Tensor>& in) { return matrix_exp(in[0]); };
  for (DType dt : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    check_dense(expm, {rn({3000, 4, 4}, 1, 0.5)}, dt, tol_for(dt), 2);  // many small matrices
    check_dense(expm, {rn({2, 40, 40}, 3, 0.05)}, dt, tol_for(dt), 4);  // n² > 256 threads
    check_dense(expm, {rn({3, 6, 6}, 5, 1.5)}, dt, tol_for(dt), 6);     // ‖A‖₁ ≈ 7: squarings
    check_dense(expm, {rn({2, 7, 7}, 7, 0.3)}, dt, tol_for(dt), 8, true, {0});  // non-contiguous
  }
}

TEST_F(SmallLinalgCuda, Solve) {
  auto slv = [](const std::vector<Tensor>& in) { return solve(in[0], in[1]); };
  for (DType dt : {DType::f64, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    check_dense(slv, {pivoted({2000, 5, 5}, 1), rn({2000, 5, 3}, 2)}, dt, tol_for(dt), 3);
    check_dense(slv, {pivoted({2, 33, 33}, 4), rn({2, 33, 17}, 5)}, dt, tol_for(dt), 6);
    check_dense(slv, {pivoted({70, 70}, 7), rn({3, 70, 2}, 8)}, dt, tol_for(dt), 9);  // broadcast A
  }
}

TEST_F(SmallLinalgCuda, SingularMatrixIsAnError) {
  Tensor A = Tensor::from_vector(std::vector<double>{1, 0, 0, 1, 1, 2, 2, 4}, {2, 2, 2});
  std::string msg = error_of([&] {
    solve(A.to(Device::cuda(0)), Tensor::ones({2, 2, 1}, DType::f64).to(Device::cuda(0)));
  });
  EXPECT_NE(msg.find("matrix 1 of A"), std::string::npos) << msg;
}

TEST_F(SmallLinalgCuda, DiscretizeDense) {
  for (auto method : {LtiDiscretization::zoh, LtiDiscretization::bilinear}) {
    SCOPED_TRACE(lti_discretization_name(method));
    auto disc = [method](const std::vector<Tensor>& in) {
      DenseDiscretized d = discretize_dense(in[0], in[1], in[2], method);
      return cat({d.A_bar, d.B_bar}, -1);
    };
    Generator g(9);
    Tensor dt = Tensor::uniform({64}, 0.001, 0.1, DType::f64, &g);
    for (DType t : {DType::f64, DType::f32})
      check_dense(disc, {rn({16, 16}, 10, 0.3), rn({16, 1}, 11), dt}, t, tol_for(t), 12);
  }
}

}  // namespace
}  // namespace ssm::testing
