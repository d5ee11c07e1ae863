// nn/hippo: each measure against its closed form and against the projection it was derived
// from (the state of a known input satisfies x' = A x + B u exactly), the rank corrections, the
// NPLR / DPLR forms reconstructing A to rounding, the S4D and S5 initialisations, and all of it
// against a transcription of the reference code's maths (tools/make_hippo_fixture.py).
#include "nn/hippo.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <functional>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "io/safetensors.h"
#include "support/compare.h"
#include "support/errors.h"
#include "support/paths.h"

namespace ssm::nn {
namespace {

using cd = std::complex<double>;
using testing::Tol;
constexpr double kPi = std::numbers::pi;
constexpr HippoMeasure kMeasures[] = {HippoMeasure::legs, HippoMeasure::legt, HippoMeasure::lagt,
                                      HippoMeasure::fout};

std::vector<double> vec(const Tensor& t) { return t.to_vector<double>(); }

void expect_error(const std::function<void()>& fn, const std::string& text) {
  std::string msg = testing::error_of(fn);
  EXPECT_NE(msg.find(text), std::string::npos) << "error: '" << msg << "', expected '" << text << "'";
}

// A (..., 2) tensor as complex values.
std::vector<cd> cvec(const Tensor& t) {
  std::vector<double> v = vec(t);
  std::vector<cd> out(v.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) out[i] = cd(v[2 * i], v[2 * i + 1]);
  return out;
}

// The largest |a - b| over the largest |b| (over 1 when that is smaller: the entries are O(1) or
// larger, and an exactly-zero matrix is matched to rounding).
double rel_err(const std::vector<double>& a, const std::vector<double>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::fabs(a[i] - b[i]));
    den = std::max(den, std::fabs(b[i]));
  }
  return num / std::max(den, 1.0);
}

double rel_err(const std::vector<cd>& a, const std::vector<cd>& b) {
  double num = 0, den = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    num = std::max(num, std::abs(a[i] - b[i]));
    den = std::max(den, std::abs(b[i]));
  }
  return num / std::max(den, 1.0);
}

std::vector<int64_t> sizes(HippoMeasure m) {
  if (m == HippoMeasure::fout) return {2, 4, 8, 16, 64, 128};
  return {1, 2, 3, 8, 17, 64, 128};
}

// ---- closed forms ---------------------------------------------------------------------------

TEST(Hippo, LegsIsTheIssuesClosedForm) {
  for (int64_t N : {1, 2, 5, 32}) {
    Hippo h = hippo(HippoMeasure::legs, N);
    ASSERT_EQ(h.A.shape(), (Shape{N, N}));
    ASSERT_EQ(h.B.shape(), (Shape{N}));
    std::vector<double> A = vec(h.A), B = vec(h.B);
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_DOUBLE_EQ(B[size_t(n)], std::sqrt(2.0 * n + 1));
      for (int64_t k = 0; k < N; ++k) {
        double want = n > k ? -std::sqrt(2.0 * n + 1) * std::sqrt(2.0 * k + 1)
                            : n == k ? -(n + 1.0) : 0.0;
        EXPECT_DOUBLE_EQ(A[size_t(n * N + k)], want) << n << ", " << k;
      }
    }
  }
}

TEST(Hippo, LegtLagtFoutAreTheirClosedForms) {
  for (double theta : {1.0, 2.0, 0.25}) {
    const int64_t N = 6;
    // LegT: -(1/θ) √(2n+1)√(2k+1) times 1 on and below the diagonal, (-1)^(n-k) above.
    std::vector<double> A = vec(hippo(HippoMeasure::legt, N, theta).A);
    std::vector<double> B = vec(hippo(HippoMeasure::legt, N, theta).B);
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_NEAR(B[size_t(n)], std::sqrt(2.0 * n + 1) / theta, 1e-15);
      for (int64_t k = 0; k < N; ++k) {
        double s = k <= n ? 1.0 : std::pow(-1.0, double(n - k));
        EXPECT_NEAR(A[size_t(n * N + k)], -s * std::sqrt((2.0 * n + 1) * (2.0 * k + 1)) / theta,
                    1e-14);
      }
    }
    // LagT: -(1/θ) on and below the diagonal, B = 1/θ.
    A = vec(hippo(HippoMeasure::lagt, N, theta).A);
    B = vec(hippo(HippoMeasure::lagt, N, theta).B);
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_DOUBLE_EQ(B[size_t(n)], 1 / theta);
      for (int64_t k = 0; k < N; ++k) EXPECT_DOUBLE_EQ(A[size_t(n * N + k)], k <= n ? -1 / theta : 0.0);
    }
    // FouT, N = 6: states mean, (unused), cos 1, sin 1, cos 2, sin 2.
    A = vec(hippo(HippoMeasure::fout, N, theta).A);
    B = vec(hippo(HippoMeasure::fout, N, theta).B);
    const double r2 = std::sqrt(2.0), w = 2 * kPi / theta;
    const double want_b[] = {1, 0, r2, 0, r2, 0};
    for (int64_t n = 0; n < N; ++n) {
      EXPECT_NEAR(B[size_t(n)], 2 * want_b[n] / theta, 1e-15);
      for (int64_t k = 0; k < N; ++k) {
        double rot = (n == 2 && k == 3) ? -w : (n == 3 && k == 2) ? w
                   : (n == 4 && k == 5) ? -2 * w : (n == 5 && k == 4) ? 2 * w : 0.0;
        EXPECT_NEAR(A[size_t(n * N + k)], rot - 2 * want_b[n] * want_b[k] / theta, 1e-14)
            << n << ", " << k;
      }
    }
  }
}

// ---- the projections the matrices come from ------------------------------------------------

// Coefficients (in τ) of a polynomial p (coefficients in s) composed with s = a + b τ.
std::vector<double> compose(const std::vector<double>& p, double a, double b) {
  std::vector<double> out(p.size(), 0.0);
  for (size_t j = 0; j < p.size(); ++j) {
    double binom = 1;  // C(j, i)
    for (size_t i = 0; i <= j; ++i) {
      out[i] += p[j] * binom * std::pow(a, double(j - i)) * std::pow(b, double(i));
      binom = binom * double(j - i) / double(i + 1);
    }
  }
  return out;
}

std::vector<double> derivative(const std::vector<double>& p) {
  std::vector<double> d(p.size(), 0.0);
  for (size_t j = 1; j < p.size(); ++j) d[j - 1] = double(j) * p[j];
  return d;
}

double eval(const std::vector<double>& p, double s) {
  double y = 0;
  for (size_t j = p.size(); j-- > 0;) y = y * s + p[j];
  return y;
}

// ∫₀¹ f(τ) √(2n+1) P_n(2τ - 1) dτ, exactly, for f a polynomial in τ: the shifted Legendre
// polynomial is Σ_k (-1)^(n+k) C(n,k) C(n+k,k) τ^k.
double legendre_coef(const std::vector<double>& f, int64_t n) {
  double s = 0;
  for (int64_t k = 0; k <= n; ++k) {
    double c = std::pow(-1.0, double(n + k));
    for (int64_t i = 0; i < k; ++i) c *= double(n - i) * double(n + 1 + i) / double((i + 1) * (i + 1));
    for (size_t j = 0; j < f.size(); ++j) s += c * f[j] / double(int64_t(j) + k + 1);
  }
  return std::sqrt(2.0 * n + 1) * s;
}

std::vector<double> matvec(const std::vector<double>& A, const std::vector<double>& x) {
  size_t N = x.size();
  std::vector<double> y(N, 0.0);
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < N; ++k) y[i] += A[i * N + k] * x[k];
  return y;
}

// LegS: c(t) = the Legendre coefficients of u on [0, t] (measure dt/t) satisfies
// c' = (1/t)(A c + B u(t)) exactly when u is a polynomial of degree < N.
TEST(Hippo, LegsStateOfAPolynomialFollowsTheOde) {
  const int64_t N = 7;
  const std::vector<double> u = {0.3, -1.2, 2.0, 0.5, -0.8};  // degree 4 < N
  Hippo h = hippo(HippoMeasure::legs, N);
  std::vector<double> A = vec(h.A), B = vec(h.B);
  for (double t : {0.4, 1.0, 2.5}) {
    std::vector<double> c(N), dc(N);
    for (int64_t n = 0; n < N; ++n) {
      c[size_t(n)] = legendre_coef(compose(u, 0, t), n);  // u(t τ)
      std::vector<double> du = compose(derivative(u), 0, t);  // d/dt u(t τ) = u'(t τ) τ
      du.insert(du.begin(), 0.0);
      dc[size_t(n)] = legendre_coef(du, n);
    }
    std::vector<double> rhs = matvec(A, c);
    for (int64_t n = 0; n < N; ++n) rhs[size_t(n)] = (rhs[size_t(n)] + B[size_t(n)] * eval(u, t)) / t;
    // The coefficients come from alternating sums of binomials: ~1e-12 lost to cancellation.
    EXPECT_LT(rel_err(rhs, dc), 1e-10) << "t = " << t;
  }
}

// LegT: c(t) = the Legendre coefficients of u on the window [t-θ, t] (measure ds/θ) satisfies
// c' = A c + B u(t) exactly when u is a polynomial of degree < N (its value at t-θ is then the
// reconstruction's).
TEST(Hippo, LegtStateOfAPolynomialFollowsTheOde) {
  const int64_t N = 6;
  const std::vector<double> u = {1.0, 0.4, -0.9, 0.25, 0.6, -0.3};  // degree 5 < N
  for (double theta : {1.0, 2.0, 0.5}) {
    Hippo h = hippo(HippoMeasure::legt, N, theta);
    std::vector<double> A = vec(h.A), B = vec(h.B);
    const double t = 0.7;
    std::vector<double> c(N), dc(N);
    for (int64_t n = 0; n < N; ++n) {
      c[size_t(n)] = legendre_coef(compose(u, t - theta, theta), n);
      dc[size_t(n)] = legendre_coef(compose(derivative(u), t - theta, theta), n);
    }
    std::vector<double> rhs = matvec(A, c);
    for (int64_t n = 0; n < N; ++n) rhs[size_t(n)] += B[size_t(n)] * eval(u, t);
    EXPECT_LT(rel_err(rhs, dc), 1e-11) << "theta = " << theta;
  }
}

// LagT: for u(s) = e^{as}, c_n(t) = e^{at} (aθ)^n / (1 + aθ)^(n+1) (the Laplace transform of the
// Laguerre polynomials), and c' = a c must equal A c + B u (lower triangular: exact for any N).
TEST(Hippo, LagtStateOfAnExponentialFollowsTheOde) {
  const int64_t N = 9;
  for (double theta : {1.0, 2.0})
    for (double a : {0.3, -0.4}) {
      Hippo h = hippo(HippoMeasure::lagt, N, theta);
      std::vector<double> A = vec(h.A), B = vec(h.B);
      const double t = 0.9, x = a * theta;
      std::vector<double> c(N), want(N);
      for (int64_t n = 0; n < N; ++n) {
        c[size_t(n)] = std::exp(a * t) * std::pow(x, double(n)) / std::pow(1 + x, double(n + 1));
        want[size_t(n)] = a * c[size_t(n)];
      }
      std::vector<double> rhs = matvec(A, c);
      for (int64_t n = 0; n < N; ++n) rhs[size_t(n)] += B[size_t(n)] * std::exp(a * t);
      EXPECT_LT(rel_err(rhs, want), 1e-13) << "theta " << theta << ", a " << a;
    }
}

// FouT: for u periodic with period θ and frequencies below N/2, the Fourier coefficients on the
// window [t-θ, t] (cosines √2 cos(2πj(t-s)/θ), sines √2 sin(2πj(t-s)/θ)) satisfy x' = A x + B u
// exactly: the estimate of u(t-θ) is exact and the window's ends agree. The trapezoidal rule
// over one period integrates these trigonometric polynomials exactly.
TEST(Hippo, FoutStateOfAPeriodicInputFollowsTheOde) {
  const int64_t N = 8;  // frequencies 1, 2, 3
  for (double theta : {1.0, 2.0}) {
    const double w = 2 * kPi / theta;
    auto u = [&](double s) {
      return 0.7 + 0.3 * std::cos(w * s) - 0.5 * std::sin(2 * w * s) + 0.2 * std::cos(3 * w * s + 1);
    };
    auto du = [&](double s) {
      return -0.3 * w * std::sin(w * s) - w * std::cos(2 * w * s) - 0.6 * w * std::sin(3 * w * s + 1);
    };
    auto basis = [&](int64_t n, double sigma) {  // g_n at s = t - σ
      if (n == 0) return 1.0;
      int64_t j = n / 2;
      if (j == 0) return 0.0;
      return std::sqrt(2.0) * (n % 2 == 0 ? std::cos(w * j * sigma) : std::sin(w * j * sigma));
    };
    Hippo h = hippo(HippoMeasure::fout, N, theta);
    std::vector<double> A = vec(h.A), B = vec(h.B);
    const double t = 0.37;
    const int points = 64;
    std::vector<double> x(N, 0.0), dx(N, 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int p = 0; p < points; ++p) {
        double sigma = theta * p / points;
        x[size_t(n)] += u(t - sigma) * basis(n, sigma) / points;
        dx[size_t(n)] += du(t - sigma) * basis(n, sigma) / points;
      }
    std::vector<double> rhs = matvec(A, x);
    for (int64_t n = 0; n < N; ++n) rhs[size_t(n)] += B[size_t(n)] * u(t);
    EXPECT_LT(rel_err(rhs, dx), 1e-12) << "theta = " << theta;
  }
}

// ---- NPLR / DPLR ----------------------------------------------------------------------------

// S = A + Pᵀ P as an N x N matrix.
std::vector<double> normal_part(HippoMeasure m, int64_t N, double theta) {
  std::vector<double> S = vec(hippo(m, N, theta).A), P = vec(hippo_rank_correction(m, N, theta));
  int64_t r = int64_t(P.size()) / N;
  for (int64_t q = 0; q < r; ++q)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) S[size_t(i * N + j)] += P[size_t(q * N + i)] * P[size_t(q * N + j)];
  return S;
}

TEST(Hippo, RankCorrectionMakesANormalMatrix) {
  const double c_of[] = {-0.5, 0.0, -0.5, 0.0};  // c in A + PᵀP = c I + K, at θ = 1
  for (HippoMeasure m : kMeasures)
    for (int64_t N : sizes(m)) {
      SCOPED_TRACE(std::string(hippo_measure_name(m)) + " N " + std::to_string(N));
      std::vector<double> S = normal_part(m, N, 1.0);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j <= i; ++j) {
          double sym = S[size_t(i * N + j)] + S[size_t(j * N + i)];
          EXPECT_NEAR(sym, i == j ? 2 * c_of[int(m)] : 0.0, 1e-12 * N) << i << ", " << j;
        }
    }
}

// V (N, M), Λ (M), P̃ (r, M), B̃ (M) of an Nplr.
struct Dplr {
  int64_t N, M, r;
  std::vector<cd> V, lambda, P, B;
  explicit Dplr(const Nplr& d)
      : N(d.V.size(0)), M(d.V.size(1)), r(d.P.size(0)), V(cvec(d.V)), lambda(cvec(d.Lambda)),
        P(cvec(d.P)), B(cvec(d.B)) {}
  cd v(int64_t i, int64_t m) const { return V[size_t(i * M + m)]; }
};

// x (n x n) y (n x n), row-major.
std::vector<cd> cmatmul(const std::vector<cd>& x, const std::vector<cd>& y, int64_t n) {
  std::vector<cd> z(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k)
      for (int64_t j = 0; j < n; ++j) z[size_t(i * n + j)] += x[size_t(i * n + k)] * y[size_t(k * n + j)];
  return z;
}

TEST(Hippo, DplrReconstructsA) {
  for (HippoMeasure m : kMeasures)
    for (double theta : {1.0, 2.0}) {
      if (m == HippoMeasure::legs && theta != 1.0) continue;
      for (int64_t N : sizes(m)) {
        SCOPED_TRACE(std::string(hippo_measure_name(m)) + " N " + std::to_string(N) + " theta " +
                     std::to_string(theta));
        Hippo h = hippo(m, N, theta);
        Dplr d(nplr(m, N, false, theta));
        ASSERT_EQ(d.M, N);
        // A = V (Λ - Σ_q p̃_q p̃_qᴴ) Vᴴ, B = V B̃, VᴴV = I
        const size_t NN = size_t(N * N);
        std::vector<cd> core(NN), Vh(NN), I(NN), B(static_cast<size_t>(N));
        for (int64_t a = 0; a < N; ++a)
          for (int64_t b = 0; b < N; ++b) {
            cd c = a == b ? d.lambda[size_t(a)] : cd(0);
            for (int64_t q = 0; q < d.r; ++q)
              c -= d.P[size_t(q * N + a)] * std::conj(d.P[size_t(q * N + b)]);
            core[size_t(a * N + b)] = c;
            Vh[size_t(a * N + b)] = std::conj(d.v(b, a));
            I[size_t(a * N + b)] = a == b ? 1 : 0;
          }
        std::vector<cd> A = cmatmul(cmatmul(d.V, core, N), Vh, N), VhV = cmatmul(Vh, d.V, N);
        for (int64_t a = 0; a < N; ++a)
          for (int64_t mm = 0; mm < N; ++mm) B[size_t(a)] += d.v(a, mm) * d.B[size_t(mm)];
        std::vector<double> Ah = vec(h.A), Bh = vec(h.B);
        EXPECT_LT(rel_err(A, std::vector<cd>(Ah.begin(), Ah.end())), 1e-10);
        EXPECT_LT(rel_err(B, std::vector<cd>(Bh.begin(), Bh.end())), 1e-10);
        EXPECT_LT(rel_err(VhV, I), 1e-12);
        for (size_t k = 1; k < d.lambda.size(); ++k)  // ascending imaginary parts
          EXPECT_LE(d.lambda[k - 1].imag(), d.lambda[k].imag() + 1e-12);
      }
    }
}

TEST(Hippo, ConjugateSymmetricHalfReconstructsAFromRealParts) {
  for (HippoMeasure m : kMeasures)
    for (int64_t N : {2, 4, 8, 16, 64, 128}) {
      SCOPED_TRACE(std::string(hippo_measure_name(m)) + " N " + std::to_string(N));
      Hippo h = hippo(m, N);
      std::vector<double> S = normal_part(m, N, 1.0), Pr = vec(hippo_rank_correction(m, N));
      Dplr d(nplr(m, N, true));
      ASSERT_EQ(d.M, N / 2);
      // S = 2 Re(V Λ Vᴴ), P = 2 Re(V P̃), B = 2 Re(V B̃), VᴴV = I (M x M), Im λ <= 0
      std::vector<double> S2(size_t(N * N)), P2(Pr.size()), B2(static_cast<size_t>(N));
      for (int64_t a = 0; a < N; ++a) {
        for (int64_t b = 0; b < N; ++b) {
          cd s = 0;
          for (int64_t k = 0; k < d.M; ++k) s += d.v(a, k) * d.lambda[size_t(k)] * std::conj(d.v(b, k));
          S2[size_t(a * N + b)] = 2 * s.real();
        }
        cd bs = 0;
        for (int64_t k = 0; k < d.M; ++k) bs += d.v(a, k) * d.B[size_t(k)];
        B2[size_t(a)] = 2 * bs.real();
        for (int64_t q = 0; q < d.r; ++q) {
          cd ps = 0;
          for (int64_t k = 0; k < d.M; ++k) ps += d.v(a, k) * d.P[size_t(q * d.M + k)];
          P2[size_t(q * N + a)] = 2 * ps.real();
        }
      }
      EXPECT_LT(rel_err(S2, S), 1e-10);
      EXPECT_LT(rel_err(P2, Pr), 1e-10);
      EXPECT_LT(rel_err(B2, vec(h.B)), 1e-10);
      // A = S - PᵀP from the half
      std::vector<double> A2 = S2, Ah = vec(h.A);
      for (int64_t q = 0; q < d.r; ++q)
        for (int64_t a = 0; a < N; ++a)
          for (int64_t b = 0; b < N; ++b) A2[size_t(a * N + b)] -= P2[size_t(q * N + a)] * P2[size_t(q * N + b)];
      EXPECT_LT(rel_err(A2, Ah), 1e-10);
      for (int64_t a = 0; a < d.M; ++a) {
        EXPECT_LE(d.lambda[size_t(a)].imag(), 1e-9);
        for (int64_t b = 0; b < d.M; ++b) {
          cd vv = 0;
          for (int64_t k = 0; k < N; ++k) vv += std::conj(d.v(k, a)) * d.v(k, b);
          EXPECT_NEAR(std::abs(vv - cd(a == b ? 1 : 0)), 0.0, 1e-12);
        }
      }
    }
}

// ---- S4D and S5 -----------------------------------------------------------------------------

TEST(Hippo, S4dInitialisations) {
  const int64_t N = 16, M = N / 2;
  std::vector<cd> inv = cvec(s4d_init(S4dInit::inv, N)), lin = cvec(s4d_init(S4dInit::lin, N)),
                  real = cvec(s4d_init(S4dInit::real, N)), legs = cvec(s4d_init(S4dInit::legs, N));
  ASSERT_EQ(s4d_init(S4dInit::inv, N).shape(), (Shape{M, 2}));
  std::vector<cd> half = cvec(nplr(HippoMeasure::legs, N, true).Lambda);
  for (int64_t n = 0; n < M; ++n) {
    double x = double(n);
    EXPECT_NEAR(std::abs(inv[size_t(n)] - cd(-0.5, N / kPi * (N / (2 * x + 1) - 1))), 0, 1e-13);
    EXPECT_NEAR(std::abs(lin[size_t(n)] - cd(-0.5, kPi * x)), 0, 1e-13);
    EXPECT_EQ(real[size_t(n)], cd(-(x + 1), 0));
    EXPECT_EQ(legs[size_t(n)], std::conj(half[size_t(n)]));
    EXPECT_NEAR(legs[size_t(n)].real(), -0.5, 1e-12);  // LegS's normal part is -½ + skew
    EXPECT_GE(legs[size_t(n)].imag(), 0.0);
  }
}

TEST(Hippo, S5BlockDiagonalInitialisation) {
  const int64_t N = 24;
  for (bool conj : {true, false})
    for (int64_t J : {1, 3}) {
      SCOPED_TRACE("blocks " + std::to_string(J) + (conj ? " conj_sym" : ""));
      S5Init s = s5_init(N, J, conj);
      const int64_t size = N / J, Mb = conj ? size / 2 : size, M = Mb * J;
      ASSERT_EQ(s.Lambda.shape(), (Shape{M, 2}));
      ASSERT_EQ(s.V.shape(), (Shape{N, M, 2}));
      ASSERT_EQ(s.Vinv.shape(), (Shape{M, N, 2}));
      Nplr block = nplr(HippoMeasure::legs, size, conj);
      std::vector<cd> lam = cvec(s.Lambda), lb = cvec(block.Lambda), V = cvec(s.V),
                      Vb = cvec(block.V), Vinv = cvec(s.Vinv);
      for (int64_t m = 0; m < M; ++m) EXPECT_EQ(lam[size_t(m)], lb[size_t(m % Mb)]);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t m = 0; m < M; ++m) {
          bool in_block = i / size == m / Mb;
          cd want = in_block ? Vb[size_t((i % size) * Mb + m % Mb)] : cd(0);
          EXPECT_EQ(V[size_t(i * M + m)], want);
          EXPECT_EQ(Vinv[size_t(m * N + i)], std::conj(want));
        }
      // V⁻¹ V = I (M x M)
      for (int64_t a = 0; a < M; ++a)
        for (int64_t b = 0; b < M; ++b) {
          cd s2 = 0;
          for (int64_t i = 0; i < N; ++i) s2 += Vinv[size_t(a * N + i)] * V[size_t(i * M + b)];
          EXPECT_NEAR(std::abs(s2 - cd(a == b ? 1 : 0)), 0.0, 1e-12);
        }
    }
}

// ---- against the reference code's maths -----------------------------------------------------

TEST(Hippo, MatchesTheReferenceImplementations) {
  auto file = safetensors::load(testing::tests_dir() + "/fixtures/nn/hippo.safetensors");
  auto get = [&](const std::string& key) {
    auto it = file.tensors.find(key);
    EXPECT_NE(it, file.tensors.end()) << "fixture lacks " << key;
    return it == file.tensors.end() ? Tensor() : it->second;
  };
  const Tol tight{1e-12, 1e-12};
  for (int64_t N : {8, 64}) {
    std::string n = std::to_string(N);
    // The S4 repository's legt and fout are θ = 2; its 'tlagt' (β = 1) is this lagt.
    struct Case {
      const char* name;
      HippoMeasure m;
      double theta;
    } cases[] = {{"legs", HippoMeasure::legs, 1.0},
                 {"legt", HippoMeasure::legt, 2.0},
                 {"lagt", HippoMeasure::lagt, 1.0},
                 {"fout", HippoMeasure::fout, 2.0}};
    for (const Case& c : cases) {
      SCOPED_TRACE(std::string(c.name) + n);
      Hippo h = hippo(c.m, N, c.theta);
      EXPECT_CLOSE(h.A, get(std::string(c.name) + n + ".A"), tight);
      EXPECT_CLOSE(h.B, get(std::string(c.name) + n + ".B"), tight);
    }
  }
  // nplr's kept half: Λ, and per mode the phase-free |B̃| and P̃ conj(B̃).
  struct NplrCase {
    const char* key;
    HippoMeasure m;
    int64_t N;
    double theta;
  } nplr_cases[] = {{"nplr.legs64", HippoMeasure::legs, 64, 1.0},
                    {"nplr.legt16", HippoMeasure::legt, 16, 2.0},
                    {"nplr.lagt16", HippoMeasure::lagt, 16, 1.0},
                    {"nplr.fout16", HippoMeasure::fout, 16, 2.0}};
  for (const NplrCase& c : nplr_cases) {
    SCOPED_TRACE(c.key);
    Nplr d = nplr(c.m, c.N, true, c.theta);
    EXPECT_CLOSE(d.Lambda, get(std::string(c.key) + ".Lambda"), (Tol{1e-10, 1e-10}));
  }
  Dplr legs(nplr(HippoMeasure::legs, 64, true));
  std::vector<double> babs, pb;
  for (int64_t m = 0; m < legs.M; ++m) {
    babs.push_back(std::abs(legs.B[size_t(m)]));
    cd x = legs.P[size_t(m)] * std::conj(legs.B[size_t(m)]);
    pb.push_back(x.real());
    pb.push_back(x.imag());
  }
  EXPECT_CLOSE(Tensor::from_vector(babs, {legs.M}), get("nplr.legs64.B_abs"), (Tol{1e-10, 1e-10}));
  EXPECT_CLOSE(Tensor::from_vector(pb, {legs.M, 2}), get("nplr.legs64.PB"), (Tol{1e-10, 1e-10}));
  for (S4dInit init : {S4dInit::legs, S4dInit::inv, S4dInit::lin, S4dInit::real}) {
    SCOPED_TRACE(s4d_init_name(init));
    EXPECT_CLOSE(s4d_init(init, 64), get(std::string("s4d.") + s4d_init_name(init) + "64"),
                 (Tol{1e-10, 1e-10}));
  }
  EXPECT_CLOSE(s5_init(64, 4, true).Lambda, get("s5.N64.J4"), (Tol{1e-10, 1e-10}));
}

// ---- errors ---------------------------------------------------------------------------------

TEST(Hippo, ErrorsNameTheProblem) {
  expect_error([] { hippo(HippoMeasure::legs, 4, 2.0); }, "legs has no timescale");
  expect_error([] { hippo(HippoMeasure::fout, 5); }, "even state size");
  expect_error([] { hippo(HippoMeasure::legt, 0); }, "at least 1");
  expect_error([] { hippo(HippoMeasure::legt, 4, -1.0); }, "theta must be > 0");
  expect_error([] { nplr(HippoMeasure::legs, 5, true); }, "N must be even");
  expect_error([] { s4d_init(S4dInit::lin, 7); }, "must be even");
  expect_error([] { s5_init(10, 3); }, "equal blocks");
  expect_error([] { s5_init(6, 2, true); }, "must be even");
  expect_error([] { parse_hippo_measure("legz"); }, "did you mean");
  expect_error([] { parse_s4d_init("linear"); }, "is not one of legs, inv, lin, real");
  EXPECT_EQ(parse_s4d_init(s4d_init_name(S4dInit::inv)), S4dInit::inv);
  EXPECT_EQ(parse_hippo_measure(hippo_measure_name(HippoMeasure::fout)), HippoMeasure::fout);
}

}  // namespace
}  // namespace ssm::nn
