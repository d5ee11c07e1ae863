// solve beyond the op table (gradcheck and PyTorch fixture there): pivoting, residuals of larger
// systems in float64 and float32, inputs left untouched, the vector and broadcasting rules,
// singular matrices and shape errors.
#include "ops/solve.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "ops/matmul.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

Tensor mat(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }

TEST(Solve, PivotsPastAZeroOnTheDiagonal) {
  // No LU without row exchanges exists for this A.
  Tensor A = mat({0, 2, 0, 3, 1, 0, 0, 0, 4}, {3, 3});
  Tensor B = mat({2, 4, 5, 3, 8, 12}, {3, 2});
  EXPECT_CLOSE(solve(A, B), mat({4.0 / 3, 1.0 / 3, 1, 2, 2, 3}, {3, 2}), (Tol{1e-15, 1e-15}));
}

TEST(Solve, ResidualOfLargerSystems) {
  Generator g(3);
  for (int64_t n : {17, 64}) {
    Tensor A = Tensor::randn({2, n, n}, DType::f64, &g), B = Tensor::randn({2, n, 3}, DType::f64, &g);
    Tensor A0 = A.clone(), B0 = B.clone();
    for (DType dt : {DType::f64, DType::f32}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " n " + std::to_string(n));
      Tensor X = solve(A.to(dt), B.to(dt)).to(DType::f64);
      // Backward-stable: ‖A X - B‖ / (‖A‖ ‖X‖) is a modest multiple of the unit roundoff.
      double res = 0, an = 0, xn = 0;
      std::vector<double> r = matmul(A, X).to_vector<double>(), b = B.to_vector<double>();
      for (size_t i = 0; i < r.size(); ++i) res = std::max(res, std::fabs(r[i] - b[i]));
      for (double v : A.to_vector<double>()) an = std::max(an, std::fabs(v));
      for (double v : X.to_vector<double>()) xn = std::max(xn, std::fabs(v));
      double eps = dt == DType::f64 ? 1.1e-16 : 6e-8;
      EXPECT_LT(res / (an * xn), 100 * n * eps);
    }
    EXPECT_CLOSE(A, A0, (Tol{0, 0}));  // the factorisation works on a copy
    EXPECT_CLOSE(B, B0, (Tol{0, 0}));
  }
}

TEST(Solve, VectorAndBroadcastShapes) {
  Generator g(4);
  Tensor A = Tensor::randn({2, 3, 3}, DType::f64, &g);
  Tensor v = Tensor::randn({3}, DType::f64, &g), bv = Tensor::randn({2, 3}, DType::f64, &g);
  EXPECT_EQ(solve(A, v).shape(), (Shape{2, 3}));   // 1-D: one vector for every matrix
  EXPECT_EQ(solve(A, bv).shape(), (Shape{2, 3}));  // A's shape without its last dim: vectors
  EXPECT_CLOSE(solve(A, bv).select(0, 1), solve(A.select(0, 1), bv.select(0, 1)), (Tol{0, 0}));
  Tensor B = Tensor::randn({4, 1, 3, 2}, DType::f64, &g);
  Tensor X = solve(A, B);
  ASSERT_EQ(X.shape(), (Shape{4, 2, 3, 2}));
  EXPECT_CLOSE(X.select(0, 3).select(0, 1), solve(A.select(0, 1), B.select(0, 3).select(0, 0)),
               (Tol{0, 0}));
}

TEST(Solve, SingularMatrixIsAnError) {
  Tensor A = mat({1, 0, 0, 1, /**/ 1, 2, 2, 4, /**/ 2, 0, 0, 2}, {3, 2, 2});
  std::string msg = error_of([&] { solve(A, Tensor::ones({3, 2, 1}, DType::f64)); });
  EXPECT_NE(msg.find("matrix 1 of A"), std::string::npos) << msg;
  EXPECT_NE(msg.find("singular"), std::string::npos) << msg;
}

TEST(Solve, Errors) {
  Tensor A = Tensor::zeros({3, 3}, DType::f64);
  EXPECT_NE(error_of([&] { solve(A, Tensor::zeros({4, 2}, DType::f64)); }).find("(..., n, k)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { solve(A, Tensor::zeros({3, 2}, DType::f32)); }).find("A's dtype"),
            std::string::npos);
  EXPECT_NE(error_of([&] { solve(Tensor::zeros({3, 2}, DType::f64), A); }).find("square"),
            std::string::npos);
  EXPECT_NE(error_of([&] { solve(Tensor::zeros({2, 3, 3}, DType::f64), Tensor::zeros({3, 3, 1}, DType::f64)); })
                .find("cannot be broadcast"),
            std::string::npos);
  EXPECT_NE(error_of([&] { solve(A.to(DType::bf16), Tensor::zeros({3, 1}, DType::bf16)); })
                .find("do not support dtype bfloat16"),
            std::string::npos);
}

}  // namespace
}  // namespace ssm::testing
