// The diagonal complex LTI rules of ops/lti_discretization.h, run on the host: ZOH against a
// fine-step solution of the ODE, the generalized bilinear family's special cases, every
// derivative against central differences (both branches of ZOH's series), the vector-Jacobian
// helper against a finite-difference gradient, and float against double.
#include "ops/lti_discretization.h"

#include <gtest/gtest.h>

#include <complex>
#include <vector>

#include "support/errors.h"

namespace ssm {
namespace {

using cd = std::complex<double>;
using Cd = Complex<double>;

Cd to_c(cd z) { return {z.real(), z.imag()}; }
cd to_std(Cd z) { return {z.re, z.im}; }

std::vector<LtiDiagRule<double>> all_rules() {
  return {{LtiDiscretization::zoh, 0.5},
          {LtiDiscretization::bilinear, 0.5},
          {LtiDiscretization::generalized_bilinear, 0.0},
          {LtiDiscretization::generalized_bilinear, 0.3},
          {LtiDiscretization::generalized_bilinear, 1.0}};
}

std::string label(const LtiDiagRule<double>& r) {
  return std::string(lti_discretization_name(r.method)) + " alpha " + std::to_string(r.alpha);
}

// Modes from stable and oscillating to tiny |dt λ| (ZOH's series branch) and λ = 0.
const cd kLambdas[] = {{-0.5, 3.0}, {-2.0, -40.0}, {-0.01, 0.0}, {1e-4, 2e-3}, {0.0, 0.0},
                       {-0.3, 0.0}, {-0.05, 0.07}};

// x' = λ x + u with u constant over each step, integrated by RK4 with many small steps: the ZOH
// recurrence must give the same samples.
TEST(LtiDiscretization, ZohMatchesAFineStepSolution) {
  const double dt = 0.1;
  const std::vector<double> u = {1.0, -0.5, 2.0, 0.0, 0.3, -1.2, 0.7, 0.7};
  for (cd lam : {cd(-0.5, 3.0), cd(-2.0, -40.0), cd(0.2, 1.0), cd(0.0, 0.0)}) {
    Cd ab, bb;
    ZohDiag<double>{}.fwd(dt, to_c(lam), ab, bb);
    cd x_zoh = 0, x_ode = 0;
    const int sub = 2000;
    const double h = dt / sub;
    for (double uk : u) {
      x_zoh = to_std(ab) * x_zoh + to_std(bb) * uk;
      auto f = [&](cd x) { return lam * x + uk; };
      for (int s = 0; s < sub; ++s) {
        cd k1 = f(x_ode), k2 = f(x_ode + h / 2 * k1), k3 = f(x_ode + h / 2 * k2), k4 = f(x_ode + h * k3);
        x_ode += h / 6 * (k1 + 2.0 * k2 + 2.0 * k3 + k4);
      }
      EXPECT_LT(std::abs(x_zoh - x_ode), 1e-11 * std::max(1.0, std::abs(x_ode))) << lam;
    }
  }
}

TEST(LtiDiscretization, GeneralizedBilinearSpecialCases) {
  for (cd lam : kLambdas)
    for (double dt : {0.01, 0.3}) {
      cd x = dt * lam;
      Cd ab, bb, ab2, bb2;
      // α = ½ is the bilinear rule
      LtiDiagRule<double>{LtiDiscretization::bilinear}.fwd(dt, to_c(lam), ab, bb);
      GbtDiag<double>{0.5}.fwd(dt, to_c(lam), ab2, bb2);
      EXPECT_EQ(to_std(ab), to_std(ab2));
      EXPECT_EQ(to_std(bb), to_std(bb2));
      EXPECT_LT(std::abs(to_std(ab) - (1.0 + x / 2.0) / (1.0 - x / 2.0)), 1e-15);
      // α = 0: backward Euler, x_k = x_{k-1} + dt (λ x_k + u_k)
      GbtDiag<double>{0.0}.fwd(dt, to_c(lam), ab, bb);
      EXPECT_LT(std::abs(to_std(ab) - 1.0 / (1.0 - x)), 1e-15);
      EXPECT_LT(std::abs(to_std(bb) - dt / (1.0 - x)), 1e-16);
      // α = 1: forward Euler, x_k = x_{k-1} + dt (λ x_{k-1} + u_k)
      GbtDiag<double>{1.0}.fwd(dt, to_c(lam), ab, bb);
      EXPECT_LT(std::abs(to_std(ab) - (1.0 + x)), 1e-15);
      EXPECT_LT(std::abs(to_std(bb) - dt), 1e-16);
    }
}

TEST(LtiDiscretization, ZohLimitsAndBranches) {
  Cd ab, bb;
  ZohDiag<double>{}.fwd(0.25, Cd{0, 0}, ab, bb);  // λ = 0: the integrator
  EXPECT_EQ(to_std(ab), cd(1, 0));
  EXPECT_EQ(to_std(bb), cd(0.25, 0));
  // B̄ = dt φ(dt λ) is smooth: its derivative in λ from the series (|x| < 0.01) and from the
  // closed form agree across the switch.
  const double dt = 1.0;
  cd below = ZohDiag<double>{}.grad(dt, Cd{0.0099, 0.0}).dbb_dlam.re;
  cd above = ZohDiag<double>{}.grad(dt, Cd{0.0101, 0.0}).dbb_dlam.re;
  EXPECT_NEAR(std::abs(below - above), 0.0002 / 3, 2e-6);  // φ'' ≈ 1/3 near 0
}

// Each partial derivative against central differences: in dt, and in λ along the real and the
// imaginary axes (holomorphic: ∂/∂Re = f', ∂/∂Im = i f').
TEST(LtiDiscretization, DerivativesMatchFiniteDifferences) {
  for (const auto& rule : all_rules())
    for (cd lam : kLambdas)
      for (double dt : {0.002, 0.05, 0.7}) {
        SCOPED_TRACE(label(rule) + " lambda " + std::to_string(lam.real()) + "+" +
                     std::to_string(lam.imag()) + "i dt " + std::to_string(dt));
        LtiDiagGrad<double> g = rule.grad(dt, to_c(lam));
        Cd ab, bb;
        rule.fwd(dt, to_c(lam), ab, bb);
        EXPECT_LT(std::abs(to_std(g.ab) - to_std(ab)), 1e-15 * (1 + std::abs(to_std(ab))));
        EXPECT_LT(std::abs(to_std(g.bb) - to_std(bb)), 1e-15 * (1 + std::abs(to_std(bb))));
        auto eval = [&](double t, cd l, bool want_ab) {
          Cd a, b;
          rule.fwd(t, to_c(l), a, b);
          return to_std(want_ab ? a : b);
        };
        for (bool want_ab : {true, false}) {
          const double e = 1e-6;
          cd d_dt = (eval(dt + e * dt, lam, want_ab) - eval(dt - e * dt, lam, want_ab)) / (2 * e * dt);
          cd d_re = (eval(dt, lam + e, want_ab) - eval(dt, lam - e, want_ab)) / (2 * e);
          cd d_im = (eval(dt, lam + cd(0, e), want_ab) - eval(dt, lam - cd(0, e), want_ab)) / (2 * e);
          cd an_dt = to_std(want_ab ? g.dab_ddt : g.dbb_ddt);
          cd an_lam = to_std(want_ab ? g.dab_dlam : g.dbb_dlam);
          double scale = 1 + std::abs(an_dt) + std::abs(an_lam);
          EXPECT_LT(std::abs(d_dt - an_dt), 1e-7 * scale) << (want_ab ? "Ā" : "B̄") << " dt";
          EXPECT_LT(std::abs(d_re - an_lam), 1e-7 * scale) << (want_ab ? "Ā" : "B̄") << " Re λ";
          EXPECT_LT(std::abs(d_im - cd(0, 1) * an_lam), 1e-7 * scale) << (want_ab ? "Ā" : "B̄") << " Im λ";
        }
      }
}

// lti_diag_vjp against the finite-difference gradient of L = Re(conj(g_ab) Ā + conj(g_bb) B̄),
// whose upstream gradients are g_ab and g_bb.
TEST(LtiDiscretization, VjpMatchesFiniteDifferences) {
  const cd gab(0.7, -1.3), gbb(-0.4, 0.9);
  for (const auto& rule : all_rules())
    for (cd lam : {cd(-0.5, 3.0), cd(-0.02, 0.01), cd(-1.0, 0.0)}) {
      SCOPED_TRACE(label(rule));
      const double dt = 0.3;
      auto loss = [&](double t, cd l) {
        Cd a, b;
        rule.fwd(t, to_c(l), a, b);
        return (std::conj(gab) * to_std(a) + std::conj(gbb) * to_std(b)).real();
      };
      double g_dt;
      Cd g_lam;
      lti_diag_vjp(rule.grad(dt, to_c(lam)), to_c(gab), to_c(gbb), g_dt, g_lam);
      const double e = 1e-6;
      double fd_dt = (loss(dt + e, lam) - loss(dt - e, lam)) / (2 * e);
      double fd_re = (loss(dt, lam + e) - loss(dt, lam - e)) / (2 * e);
      double fd_im = (loss(dt, lam + cd(0, e)) - loss(dt, lam - cd(0, e))) / (2 * e);
      EXPECT_NEAR(g_dt, fd_dt, 1e-8);
      EXPECT_NEAR(g_lam.re, fd_re, 1e-8);
      EXPECT_NEAR(g_lam.im, fd_im, 1e-8);
    }
}

TEST(LtiDiscretization, FloatAgreesWithDouble) {
  for (const auto& rule : all_rules())
    for (cd lam : kLambdas) {
      SCOPED_TRACE(label(rule));
      LtiDiagRule<float> rf{rule.method, float(rule.alpha)};
      Complex<float> lf{float(lam.real()), float(lam.imag())};
      LtiDiagGrad<float> gf = rf.grad(0.05f, lf);
      LtiDiagGrad<double> gd = rule.grad(double(0.05f), Cd{double(lf.re), double(lf.im)});
      auto close = [](Complex<float> a, Cd b) {
        return std::abs(cd(a.re, a.im) - to_std(b)) <= 2e-6 * (1 + std::abs(to_std(b)));
      };
      EXPECT_TRUE(close(gf.ab, gd.ab));
      EXPECT_TRUE(close(gf.bb, gd.bb));
      EXPECT_TRUE(close(gf.dab_dlam, gd.dab_dlam));
      EXPECT_TRUE(close(gf.dbb_dlam, gd.dbb_dlam));
      EXPECT_TRUE(close(gf.dbb_ddt, gd.dbb_ddt));
    }
}

TEST(LtiDiscretization, Names) {
  for (auto d : {LtiDiscretization::zoh, LtiDiscretization::bilinear,
                 LtiDiscretization::generalized_bilinear})
    EXPECT_EQ(parse_lti_discretization(lti_discretization_name(d)), d);
  std::string msg = testing::error_of([] { parse_lti_discretization("bilinaer"); });
  EXPECT_NE(msg.find("did you mean 'bilinear'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace ssm
