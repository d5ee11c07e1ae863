// discretize_dense beyond the op table (gradcheck and PyTorch fixture there): each method's
// identities, agreement with the diagonal complex rules (a complex mode is a 2 x 2 real
// rotation block), ZOH against a fine-step solution of the ODE, the bilinear and Euler rules'
// orders of accuracy, and errors.
#include "ops/discretize_dense.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <vector>

#include "core/rng.h"
#include "nn/hippo.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

Tensor mat(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor scalar(double v) { return Tensor::scalar(v, DType::f64); }

Tensor stable(Generator& g, int64_t n) {
  std::vector<double> v = Tensor::randn({n, n}, DType::f64, &g).to_vector<double>();
  for (int64_t i = 0; i < n; ++i) v[size_t(i * n + i)] -= 2.0;
  return mat(v, {n, n});
}

Tensor eye(int64_t n) {
  std::vector<double> v(static_cast<size_t>(n * n), 0.0);
  for (int64_t i = 0; i < n; ++i) v[size_t(i * n + i)] = 1;
  return mat(v, {n, n});
}

DenseDiscretized gbt(const Tensor& A, const Tensor& B, double dt, double alpha) {
  return discretize_dense(A, B, scalar(dt), LtiDiscretization::generalized_bilinear, alpha);
}

TEST(DiscretizeDense, GeneralizedBilinearIdentities) {
  Generator g(1);
  Tensor A = stable(g, 4), B = Tensor::randn({4, 2}, DType::f64, &g), I = eye(4);
  const double dt = 0.3;
  Tol tight{1e-14, 1e-13};
  // α = ½ is the bilinear rule
  DenseDiscretized half = gbt(A, B, dt, 0.5);
  DenseDiscretized bil = discretize_dense(A, B, scalar(dt), LtiDiscretization::bilinear);
  EXPECT_CLOSE(half.A_bar, bil.A_bar, (Tol{0, 0}));
  EXPECT_CLOSE(half.B_bar, bil.B_bar, (Tol{0, 0}));
  // bilinear: (I - dt/2 A) Ā = I + dt/2 A, (I - dt/2 A) B̄ = dt B
  std::vector<double> a = A.to_vector<double>(), l(16), r(16);
  for (int i = 0; i < 16; ++i) {
    l[size_t(i)] = (i % 5 == 0) - dt / 2 * a[size_t(i)];
    r[size_t(i)] = (i % 5 == 0) + dt / 2 * a[size_t(i)];
  }
  EXPECT_CLOSE(matmul(mat(l, {4, 4}), bil.A_bar), mat(r, {4, 4}), tight);
  EXPECT_CLOSE(matmul(mat(l, {4, 4}), bil.B_bar), mul(B, dt), tight);
  // α = 1: forward Euler, Ā = I + dt A, B̄ = dt B
  DenseDiscretized fe = gbt(A, B, dt, 1.0);
  EXPECT_CLOSE(fe.A_bar, add(I, mul(A, dt)), tight);
  EXPECT_CLOSE(fe.B_bar, mul(B, dt), tight);
  // α = 0: backward Euler, (I - dt A) Ā = I, (I - dt A) B̄ = dt B
  DenseDiscretized be = gbt(A, B, dt, 0.0);
  Tensor m = sub(I, mul(A, dt));
  EXPECT_CLOSE(matmul(m, be.A_bar), I, tight);
  EXPECT_CLOSE(matmul(m, be.B_bar), mul(B, dt), tight);
}

TEST(DiscretizeDense, ZohOfDiagonalAIsTheDiagonalRule) {
  const std::vector<double> lam = {-0.5, -3.0, 0.0, 0.2};  // 0: no inverse of A is taken
  const double dt = 0.4;
  std::vector<double> a(16, 0.0);
  for (int i = 0; i < 4; ++i) a[size_t(i * 5)] = lam[size_t(i)];
  Generator g(2);
  Tensor B = Tensor::randn({4, 3}, DType::f64, &g);
  DenseDiscretized d = discretize_dense(mat(a, {4, 4}), B, scalar(dt), LtiDiscretization::zoh);
  std::vector<double> ab(16, 0.0), bb = B.to_vector<double>();
  for (int i = 0; i < 4; ++i) {
    Complex<double> abar, bbar;
    ZohDiag<double>{}.fwd(dt, Complex<double>{lam[size_t(i)], 0}, abar, bbar);
    ab[size_t(i * 5)] = abar.re;
    for (int j = 0; j < 3; ++j) bb[size_t(i * 3 + j)] *= bbar.re;
  }
  EXPECT_CLOSE(d.A_bar, mat(ab, {4, 4}), (Tol{1e-15, 1e-14}));
  EXPECT_CLOSE(d.B_bar, mat(bb, {4, 3}), (Tol{1e-15, 1e-14}));
}

// A complex mode λ = a + ib acting on (Re x, Im x) is the real block [[a, -b], [b, a]]; with
// B = (1, 0) the dense rules must give the complex rules' Ā and B̄.
TEST(DiscretizeDense, RotationBlockIsTheComplexDiagonalRule) {
  const double dt = 0.25;
  for (Complex<double> lam : {Complex<double>{-0.5, 3.0}, Complex<double>{-0.1, -7.0}}) {
    Tensor A = mat({lam.re, -lam.im, lam.im, lam.re}, {2, 2}), B = mat({1, 0}, {2, 1});
    for (auto method : {LtiDiscretization::zoh, LtiDiscretization::bilinear,
                        LtiDiscretization::generalized_bilinear}) {
      SCOPED_TRACE(lti_discretization_name(method));
      DenseDiscretized d = discretize_dense(A, B, scalar(dt), method, 0.3);
      Complex<double> ab, bb;
      LtiDiagRule<double>{method, 0.3}.fwd(dt, lam, ab, bb);
      EXPECT_CLOSE(d.A_bar, mat({ab.re, -ab.im, ab.im, ab.re}, {2, 2}), (Tol{1e-14, 1e-13}));
      EXPECT_CLOSE(d.B_bar, mat({bb.re, bb.im}, {2, 1}), (Tol{1e-14, 1e-13}));
    }
  }
}

// x' = A x + B u with u held over each step, integrated by RK4 with many small steps, against
// the recurrence x_k = Ā x_{k-1} + B̄ u_k. Returns the largest error over the samples.
double recurrence_error(const Tensor& A, const Tensor& B, double dt, LtiDiscretization method,
                        double alpha, const std::vector<std::vector<double>>& u, int sub = 1000) {
  const int64_t N = A.size(0), M = B.size(1);
  DenseDiscretized d = discretize_dense(A, B, scalar(dt), method, alpha);
  std::vector<double> a = A.to_vector<double>(), b = B.to_vector<double>();
  std::vector<double> ab = d.A_bar.contiguous().to_vector<double>(),
                      bb = d.B_bar.contiguous().to_vector<double>();
  std::vector<double> x(static_cast<size_t>(N), 0.0), y(size_t(N), 0.0);
  auto f = [&](const std::vector<double>& s, const std::vector<double>& uk) {
    std::vector<double> out(static_cast<size_t>(N), 0.0);
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t k = 0; k < N; ++k) out[size_t(i)] += a[size_t(i * N + k)] * s[size_t(k)];
      for (int64_t j = 0; j < M; ++j) out[size_t(i)] += b[size_t(i * M + j)] * uk[size_t(j)];
    }
    return out;
  };
  auto axpy = [](const std::vector<double>& s, double h, const std::vector<double>& k) {
    std::vector<double> out = s;
    for (size_t i = 0; i < s.size(); ++i) out[i] += h * k[i];
    return out;
  };
  double err = 0;
  const double h = dt / sub;
  for (const auto& uk : u) {
    std::vector<double> next(static_cast<size_t>(N), 0.0);
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t k = 0; k < N; ++k) next[size_t(i)] += ab[size_t(i * N + k)] * x[size_t(k)];
      for (int64_t j = 0; j < M; ++j) next[size_t(i)] += bb[size_t(i * M + j)] * uk[size_t(j)];
    }
    x = next;
    for (int s = 0; s < sub; ++s) {
      auto k1 = f(y, uk), k2 = f(axpy(y, h / 2, k1), uk), k3 = f(axpy(y, h / 2, k2), uk),
           k4 = f(axpy(y, h, k3), uk);
      for (int64_t i = 0; i < N; ++i)
        y[size_t(i)] += h / 6 * (k1[size_t(i)] + 2 * k2[size_t(i)] + 2 * k3[size_t(i)] + k4[size_t(i)]);
    }
    for (int64_t i = 0; i < N; ++i) err = std::max(err, std::fabs(x[size_t(i)] - y[size_t(i)]));
  }
  return err;
}

std::vector<std::vector<double>> random_inputs(Generator& g, int steps, int64_t M) {
  std::vector<double> v = Tensor::randn({steps, M}, DType::f64, &g).to_vector<double>();
  std::vector<std::vector<double>> u(static_cast<size_t>(steps));
  for (int t = 0; t < steps; ++t) u[size_t(t)].assign(v.begin() + t * M, v.begin() + (t + 1) * M);
  return u;
}

TEST(DiscretizeDense, ZohMatchesAFineStepSolution) {
  Generator g(3);
  // HiPPO-LegT (a real SSM's A) and a random stable matrix with two inputs.
  nn::Hippo legt = nn::hippo(nn::HippoMeasure::legt, 6);
  EXPECT_LT(recurrence_error(legt.A, legt.B.unsqueeze(1), 0.05, LtiDiscretization::zoh, 0,
                             random_inputs(g, 30, 1)),
            1e-10);
  EXPECT_LT(recurrence_error(stable(g, 5), Tensor::randn({5, 2}, DType::f64, &g), 0.2,
                             LtiDiscretization::zoh, 0, random_inputs(g, 20, 2)),
            1e-10);
}

// The bilinear rule is second order, the Euler rules first order: halving dt divides the error
// over a fixed time span by about 4 and 2.
TEST(DiscretizeDense, OrdersOfAccuracy) {
  Generator g(4);
  Tensor A = stable(g, 3), B = Tensor::randn({3, 1}, DType::f64, &g);
  auto error_at = [&](double dt, double alpha) {
    int steps = int(std::lround(1.0 / dt));
    std::vector<std::vector<double>> u(static_cast<size_t>(steps), std::vector<double>{1.0});
    return recurrence_error(A, B, dt, LtiDiscretization::generalized_bilinear, alpha, u, 200);
  };
  double b1 = error_at(0.05, 0.5), b2 = error_at(0.025, 0.5);
  EXPECT_GT(b1 / b2, 3.5);
  EXPECT_LT(b1 / b2, 4.5);
  for (double alpha : {0.0, 1.0}) {
    double e1 = error_at(0.05, alpha), e2 = error_at(0.025, alpha);
    EXPECT_GT(e1 / e2, 1.7) << "alpha " << alpha;
    EXPECT_LT(e1 / e2, 2.3) << "alpha " << alpha;
  }
}

TEST(DiscretizeDense, BroadcastsBatchAndStep) {
  Generator g(5);
  Tensor A = stable(g, 3), B = Tensor::randn({3, 2}, DType::f64, &g);
  Tensor dt = mat({0.1, 0.2, 0.3, 0.4}, {4});
  DenseDiscretized d = discretize_dense(A, B, dt, LtiDiscretization::zoh);
  ASSERT_EQ(d.A_bar.shape(), (Shape{4, 3, 3}));
  ASSERT_EQ(d.B_bar.shape(), (Shape{4, 3, 2}));
  DenseDiscretized one = discretize_dense(A, B, scalar(0.3), LtiDiscretization::zoh);
  EXPECT_CLOSE(d.A_bar.select(0, 2), one.A_bar, (Tol{0, 0}));
  EXPECT_CLOSE(d.B_bar.select(0, 2), one.B_bar, (Tol{0, 0}));
  // float32 agrees with float64
  DenseDiscretized f = discretize_dense(A.to(DType::f32), B.to(DType::f32), dt.to(DType::f32),
                                        LtiDiscretization::bilinear);
  DenseDiscretized r = discretize_dense(A, B, dt, LtiDiscretization::bilinear);
  EXPECT_CLOSE(f.A_bar.to(DType::f64), r.A_bar, (Tol{1e-6, 1e-5}));
}

TEST(DiscretizeDense, Errors) {
  Tensor A = Tensor::zeros({3, 3}, DType::f64), B = Tensor::zeros({3, 1}, DType::f64);
  auto has = [](const std::function<void()>& fn, const std::string& text) {
    std::string msg = error_of(fn);
    return msg.find(text) != std::string::npos;
  };
  EXPECT_TRUE(has([&] { discretize_dense(A, Tensor::zeros({2, 1}, DType::f64), scalar(1), LtiDiscretization::zoh); },
                  "B must be (..., N, M) with N = 3"));
  EXPECT_TRUE(has([&] { discretize_dense(A, B, Tensor::scalar(1, DType::f32), LtiDiscretization::zoh); },
                  "one dtype"));
  EXPECT_TRUE(has([&] { discretize_dense(A, B, scalar(1), LtiDiscretization::generalized_bilinear, 1.5); },
                  "alpha must be in [0, 1]"));
  EXPECT_TRUE(has([&] { discretize_dense(Tensor::zeros({3, 2}, DType::f64), B, scalar(1), LtiDiscretization::zoh); },
                  "square matrices"));
  EXPECT_TRUE(has([&] { discretize_dense(Tensor::zeros({2, 3, 3}, DType::f64), B, Tensor::ones({3}, DType::f64), LtiDiscretization::zoh); },
                  "cannot be broadcast"));
}

}  // namespace
}  // namespace ssm::testing
