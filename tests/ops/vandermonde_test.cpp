// vandermonde beyond its op-table entry (gradcheck and PyTorch fixture): long kernels against a
// direct std::complex evaluation (zoh, and bilinear as a running product), float32 against
// float64 at long L, the recurrence helper, and the errors.
#include "ops/vandermonde.h"

#include <gtest/gtest.h>

#include <complex>
#include <functional>
#include <vector>

#include "core/rng.h"
#include "nn/hippo.h"
#include "support/errors.h"

namespace ssm {
namespace {

using cd = std::complex<double>;

void expect_error(const std::function<void()>& fn, const std::string& text) {
  std::string msg = testing::error_of(fn);
  EXPECT_NE(msg.find(text), std::string::npos) << "error: '" << msg << "', expected '" << text << "'";
}

struct System {
  Tensor C, dt, A;  // (1, H, M, 2), (H), (H, M, 2), float64
};

// S4D-Lin modes (Im λ up to π (M - 1)) with steps up to 0.1: angles far beyond π at long L.
System lin_system(int64_t H, int64_t M, uint64_t seed) {
  Generator g(seed);
  Tensor lam = nn::s4d_init(nn::S4dInit::lin, 2 * M);  // (M, 2)
  System s;
  s.C = Tensor::randn({1, H, M, 2}, DType::f64, &g);
  s.dt = Tensor::uniform({H}, 0.01, 0.1, DType::f64, &g);
  s.A = lam.unsqueeze(0).expand({H, M, 2}).contiguous();
  return s;
}

// K by std::complex: zoh as exp(dt λ l), bilinear as a running product of Ā.
std::vector<double> direct(const System& s, int64_t L, LtiDiscretization method) {
  const int64_t H = s.dt.size(0), M = s.A.size(1);
  auto C = s.C.to_vector<double>(), dt = s.dt.to_vector<double>(), A = s.A.to_vector<double>();
  std::vector<double> K(size_t(H * L), 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t m = 0; m < M; ++m) {
      size_t i = size_t(h * M + m);
      cd lam(A[2 * i], A[2 * i + 1]), c(C[2 * i], C[2 * i + 1]), x = dt[size_t(h)] * lam;
      cd ab = method == LtiDiscretization::zoh ? std::exp(x) : (1.0 + x / 2.0) / (1.0 - x / 2.0);
      cd bb = method == LtiDiscretization::zoh ? (std::exp(x) - 1.0) / lam : dt[size_t(h)] / (1.0 - x / 2.0);
      cd p = 1.0;
      for (int64_t l = 0; l < L; ++l) {
        cd e = method == LtiDiscretization::zoh ? std::exp(x * double(l)) : p;
        K[size_t(h * L + l)] += 2 * (c * bb * e).real();
        p *= ab;
      }
    }
  return K;
}

TEST(Vandermonde, LongKernelMatchesDirectEvaluation) {
  System s = lin_system(2, 16, 1);
  const int64_t L = 3000;
  for (LtiDiscretization method : {LtiDiscretization::zoh, LtiDiscretization::bilinear}) {
    SCOPED_TRACE(lti_discretization_name(method));
    auto K = vandermonde(s.C, s.dt, s.A, L, method).to_vector<double>();
    auto ref = direct(s, L, method);
    double scale = 0;
    for (double v : ref) scale = std::max(scale, std::fabs(v));
    for (size_t i = 0; i < K.size(); ++i) ASSERT_NEAR(K[i], ref[i], 1e-9 * scale) << "at " << i;
  }
}

TEST(Vandermonde, Float32TracksFloat64AtLongLength) {
  System s = lin_system(3, 32, 2);
  const int64_t L = 4096;
  auto K64 = vandermonde(s.C, s.dt, s.A, L).to_vector<double>();
  auto K32 = vandermonde(s.C.to(DType::f32), s.dt.to(DType::f32), s.A.to(DType::f32), L)
                 .to(DType::f64)
                 .to_vector<double>();
  double scale = 0, err = 0;
  for (size_t i = 0; i < K64.size(); ++i) {
    scale = std::max(scale, std::fabs(K64[i]));
    err = std::max(err, std::fabs(K32[i] - K64[i]));
  }
  // The float32 angle Im(x) l carries about 2^-24 π L of rounding (Im x reduced to [-π, π]).
  EXPECT_LT(err, 2e-3 * scale);
}

TEST(Vandermonde, RecurrenceGivesTheKernel) {
  // K[l] = 2 Re(C B̄ Ā^l): from the recurrence's Ā and C B̄ by repeated products.
  System s = lin_system(2, 4, 3);
  for (LtiDiscretization method : {LtiDiscretization::zoh, LtiDiscretization::bilinear}) {
    SCOPED_TRACE(lti_discretization_name(method));
    VandermondeRecurrence r = vandermonde_recurrence(s.C, s.dt, s.A, method);
    auto ab = r.Ab.to_vector<double>(), cb = r.CB.to_vector<double>();
    auto K = vandermonde(s.C, s.dt, s.A, 20, method).to_vector<double>();
    for (int64_t h = 0; h < 2; ++h) {
      std::vector<cd> p(4, 1.0);
      for (int64_t l = 0; l < 20; ++l) {
        double k = 0;
        for (size_t m = 0; m < 4; ++m) {
          size_t i = size_t(h) * 4 + m;
          k += 2 * (cd(cb[2 * i], cb[2 * i + 1]) * p[m]).real();
          p[m] *= cd(ab[2 * i], ab[2 * i + 1]);
        }
        EXPECT_NEAR(K[size_t(h * 20 + l)], k, 1e-12);
      }
    }
  }
}

TEST(Vandermonde, Errors) {
  System s = lin_system(2, 3, 4);
  expect_error([&] { vandermonde(Tensor::zeros({3, 2, 3, 2}, DType::f64), s.dt, s.A, 4); },
               "C must be (channels 1 or 2, H, M, 2)");
  expect_error([&] { vandermonde(s.C, Tensor::ones({3}, DType::f64), s.A, 4); }, "dt must be (H)");
  expect_error([&] { vandermonde(s.C, s.dt, Tensor::zeros({2, 4, 2}, DType::f64), 4); },
               "A must be (H, M, 2)");
  expect_error([&] { vandermonde(s.C, s.dt.to(DType::f32), s.A, 4); }, "share one dtype");
  expect_error([&] { vandermonde(s.C, s.dt, s.A, -1); }, "L must be >= 0");
  expect_error([&] { vandermonde(s.C, s.dt, s.A, 4, LtiDiscretization::generalized_bilinear); },
               "zoh or bilinear");
}

}  // namespace
}  // namespace ssm
