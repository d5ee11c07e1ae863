// matrix_exp beyond the op table (gradcheck and PyTorch fixture there): every Padé degree and
// the scaling and squaring against an independent Taylor-series reference in long double,
// closed forms, float32, non-finite inputs, empty shapes and errors.
#include "ops/matrix_exp.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

// exp(a) for a row-major n x n matrix, by the Taylor series in long double after scaling the
// matrix to ‖a‖₁ <= 1/4 (30 terms: far below double's rounding), then squaring back.
std::vector<double> expm_reference(const std::vector<double>& a, int64_t n) {
  using L = long double;
  L norm = 0;
  for (int64_t j = 0; j < n; ++j) {
    L s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(L(a[size_t(i * n + j)]));
    norm = std::max(norm, s);
  }
  int squarings = norm > 0.25L ? int(std::ceil(std::log2(norm / 0.25L))) : 0;
  std::vector<L> x(a.size()), term(a.size(), 0), sum(a.size(), 0), next(a.size());
  for (size_t i = 0; i < a.size(); ++i) x[i] = std::ldexp(L(a[i]), -squarings);
  for (int64_t i = 0; i < n; ++i) term[size_t(i * n + i)] = sum[size_t(i * n + i)] = 1;
  auto mul = [n](const std::vector<L>& p, const std::vector<L>& q, std::vector<L>& r) {
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        L s = 0;
        for (int64_t k = 0; k < n; ++k) s += p[size_t(i * n + k)] * q[size_t(k * n + j)];
        r[size_t(i * n + j)] = s;
      }
  };
  for (int k = 1; k <= 30; ++k) {
    mul(term, x, next);
    for (size_t i = 0; i < a.size(); ++i) sum[i] += term[i] = next[i] / L(k);
  }
  for (int s = 0; s < squarings; ++s) {
    mul(sum, sum, next);
    sum = next;
  }
  return std::vector<double>(sum.begin(), sum.end());
}

// max |x - y| / max |y|
double rel_err(const std::vector<double>& x, const std::vector<double>& y) {
  double num = 0, den = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    num = std::max(num, std::fabs(x[i] - y[i]));
    den = std::max(den, std::fabs(y[i]));
  }
  return num / den;
}

// A random n x n matrix scaled to ‖A‖₁ = norm.
std::vector<double> with_norm(Generator& g, int64_t n, double norm) {
  std::vector<double> a = Tensor::randn({n, n}, DType::f64, &g).to_vector<double>();
  double current = 0;
  for (int64_t j = 0; j < n; ++j) {
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::fabs(a[size_t(i * n + j)]);
    current = std::max(current, s);
  }
  for (double& x : a) x *= norm / current;
  return a;
}

TEST(MatrixExp, EveryDegreeAndScalingAgainstTaylor) {
  Generator g(11);
  // ‖A‖₁ within each θ_m of float64 (3, 5, 7, 9, 13), then beyond θ_13 (squarings).
  for (double norm : {0.01, 0.2, 0.9, 2.0, 5.0, 20.0, 60.0})
    for (int64_t n : {1, 3, 8, 17}) {
      SCOPED_TRACE("norm " + std::to_string(norm) + ", n " + std::to_string(n));
      std::vector<double> a = with_norm(g, n, norm), ref = expm_reference(a, n);
      Tensor A = Tensor::from_vector(a, {n, n});
      // Rounding grows with the squarings (about log2(‖A‖ / 5.4) of them).
      double tol64 = norm <= 5.4 ? 1e-13 : 1e-11;
      EXPECT_LT(rel_err(matrix_exp(A).to_vector<double>(), ref), tol64);
      if (norm <= 5.0) {  // float32: degrees 3, 5, 7, squared beyond 3.9
        EXPECT_LT(rel_err(matrix_exp(A.to(DType::f32)).to_vector<double>(), ref), 2e-5);
      }
    }
}

TEST(MatrixExp, ClosedForms) {
  // diagonal
  Tensor d = Tensor::from_vector(std::vector<double>{-3, 0, 0, 0, 0.5, 0, 0, 0, 7}, {3, 3});
  EXPECT_CLOSE(matrix_exp(d),
               Tensor::from_vector(std::vector<double>{std::exp(-3.0), 0, 0, 0, std::exp(0.5), 0,
                                                       0, 0, std::exp(7.0)},
                                   {3, 3}),
               (Tol{1e-15, 1e-14}));
  // nilpotent: exp(t N) = I + t N + t² N² / 2
  const double t = 3.5;
  Tensor nil = Tensor::from_vector(std::vector<double>{0, t, 0, 0, 0, t, 0, 0, 0}, {3, 3});
  EXPECT_CLOSE(matrix_exp(nil),
               Tensor::from_vector(std::vector<double>{1, t, t * t / 2, 0, 1, t, 0, 0, 1}, {3, 3}),
               (Tol{1e-14, 1e-14}));
  // a rotation generator, ‖A‖₁ = 10: three squarings
  const double w = 10;
  Tensor rot = Tensor::from_vector(std::vector<double>{0, -w, w, 0}, {2, 2});
  EXPECT_CLOSE(matrix_exp(rot),
               Tensor::from_vector(std::vector<double>{std::cos(w), -std::sin(w), std::sin(w),
                                                       std::cos(w)},
                                   {2, 2}),
               (Tol{1e-13, 1e-12}));
}

TEST(MatrixExp, BatchedEqualsOneByOne) {
  Generator g(5);
  Tensor A = Tensor::uniform({2, 3, 4, 4}, -2, 2, DType::f64, &g);
  Tensor E = matrix_exp(A);
  ASSERT_EQ(E.shape(), A.shape());
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      EXPECT_CLOSE(E.select(0, i).select(0, j), matrix_exp(A.select(0, i).select(0, j).contiguous()),
                   (Tol{0, 0}));
}

TEST(MatrixExp, NonFiniteInputsGiveNaN) {
  for (double bad : {NAN, INFINITY}) {
    Tensor A = Tensor::from_vector(std::vector<double>{1, 2, bad, 4}, {2, 2});
    for (double v : matrix_exp(A).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
  }
}

TEST(MatrixExp, EmptyShapes) {
  EXPECT_EQ(matrix_exp(Tensor::zeros({0, 0}, DType::f64)).shape(), (Shape{0, 0}));
  EXPECT_EQ(matrix_exp(Tensor::zeros({0, 3, 3}, DType::f32)).shape(), (Shape{0, 3, 3}));
  EXPECT_EQ(matrix_exp(Tensor::zeros({2, 0, 0}, DType::f64)).shape(), (Shape{2, 0, 0}));
}

TEST(MatrixExp, Errors) {
  EXPECT_NE(error_of([] { matrix_exp(Tensor::zeros({2, 3})); }).find("square matrices"),
            std::string::npos);
  EXPECT_NE(error_of([] { matrix_exp(Tensor::zeros({3})); }).find("(..., n, n)"),
            std::string::npos);
  EXPECT_NE(error_of([] { matrix_exp(Tensor::zeros({2, 2}, DType::bf16)); })
                .find("do not support dtype bfloat16"),
            std::string::npos);
}

}  // namespace
}  // namespace ssm::testing
