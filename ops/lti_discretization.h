// Discretization of linear time-invariant SSMs (S4, S4D, S5): the rules for a diagonal complex
// state matrix, written once for host and device (SSM_HD) so the layers' CPU and CUDA kernels
// share them, with the partial derivatives a backward needs. Dense (small n x n) A:
// ops/discretize_dense.h. Mamba's input-dependent rules: ops/discretization.h.
//
// One mode of a diagonal system: x'(t) = λ x(t) + u(t) with λ complex (B is folded into u by the
// caller), sampled with step dt > 0 and u held over each step as the rule assumes:
//   x_k = Ā x_{k-1} + B̄ u_k
// Rules (Gu et al., "On the Parameterization and Initialization of Diagonal State Space Models",
// 2022, §2; Zhang et al. 2007 for the generalized bilinear family):
//   zoh                   Ā = e^{dt λ},  B̄ = (e^{dt λ} - 1) / λ  (= dt φ(dt λ), φ(x) = (e^x - 1)/x;
//                         → dt as dt λ → 0): exact for u constant over each step
//   generalized_bilinear  Ā = (1 + α dt λ) / (1 - (1-α) dt λ),  B̄ = dt / (1 - (1-α) dt λ);
//                         α = 0 backward Euler, ½ bilinear (Tustin), 1 forward Euler
//   bilinear              generalized_bilinear with α = ½
// Computed in C = float or double; Ā and B̄ are holomorphic in λ, so one complex derivative each
// gives the gradient of λ (core/complex.h states the convention; lti_diag_vjp applies it).
#pragma once

#include <cmath>
#include <string>

#include "core/complex.h"

namespace ssm {

enum class LtiDiscretization { zoh, bilinear, generalized_bilinear };

// "zoh", "bilinear", "generalized_bilinear"; parsing throws ssm::Error naming the value and the
// allowed names.
LtiDiscretization parse_lti_discretization(const std::string& s);
const char* lti_discretization_name(LtiDiscretization d);

// Ā, B̄ and their derivatives with respect to dt (real) and λ (complex, holomorphic).
template <class C>
struct LtiDiagGrad {
  Complex<C> ab, bb;
  Complex<C> dab_ddt, dab_dlam, dbb_ddt, dbb_dlam;
};

template <class C>
struct ZohDiag {
  SSM_HD void fwd(C dt, Complex<C> lam, Complex<C>& ab, Complex<C>& bb) const {
    Complex<C> x = dt * lam;
    ab = cexp(x);
    bb = x.re == C(0) && x.im == C(0) ? cx(dt) : cexpm1(x) / lam;
  }
  // dĀ/ddt = λ Ā, dĀ/dλ = dt Ā, dB̄/ddt = Ā, dB̄/dλ = dt² φ'(x) with
  // φ'(x) = (x e^x - (e^x - 1)) / x², its Taylor series 1/2 + x/3 + x²/8 + x³/30 + x⁴/144 for
  // |x| < 0.01 (the closed form cancels there; the series' error is below |x|⁵/840).
  SSM_HD LtiDiagGrad<C> grad(C dt, Complex<C> lam) const {
    LtiDiagGrad<C> g;
    Complex<C> x = dt * lam;
    g.ab = cexp(x);
    Complex<C> em1 = cexpm1(x);
    bool zero = x.re == C(0) && x.im == C(0);
    g.bb = zero ? cx(dt) : em1 / lam;
    g.dab_ddt = lam * g.ab;
    g.dab_dlam = dt * g.ab;
    g.dbb_ddt = g.ab;
    Complex<C> dphi;
    if (abs2(x) < C(1e-4)) {
      dphi = C(1) / 144 * x + C(1) / 30;
      dphi = dphi * x + C(1) / 8;
      dphi = dphi * x + C(1) / 3;
      dphi = dphi * x + C(0.5);
    } else {
      dphi = (x * g.ab - em1) / (x * x);
    }
    g.dbb_dlam = (dt * dt) * dphi;
    return g;
  }
  // log Ā = dt λ (the Vandermonde kernel of S4D takes powers of Ā through it).
  SSM_HD Complex<C> log_ab(C dt, Complex<C> lam) const { return dt * lam; }
};

template <class C>
struct GbtDiag {
  C alpha = C(0.5);
  SSM_HD void fwd(C dt, Complex<C> lam, Complex<C>& ab, Complex<C>& bb) const {
    Complex<C> x = dt * lam, inv = reciprocal(C(1) - (C(1) - alpha) * x);
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
  }
  // With den = 1 - β x, β = 1 - α, x = dt λ (dĀ/dx = (α den + β (1 + α x)) / den² = 1 / den²):
  // dĀ/ddt = λ / den², dĀ/dλ = dt / den², dB̄/ddt = 1 / den², dB̄/dλ = β dt² / den².
  SSM_HD LtiDiagGrad<C> grad(C dt, Complex<C> lam) const {
    LtiDiagGrad<C> g;
    C beta = C(1) - alpha;
    Complex<C> x = dt * lam, inv = reciprocal(C(1) - beta * x), inv2 = inv * inv;
    g.ab = (C(1) + alpha * x) * inv;
    g.bb = dt * inv;
    g.dab_ddt = lam * inv2;
    g.dab_dlam = dt * inv2;
    g.dbb_ddt = inv2;
    g.dbb_dlam = (beta * dt * dt) * inv2;
    return g;
  }
};

// The rule chosen at run time (a layer's setting): ZohDiag or GbtDiag (bilinear: α = ½).
template <class C>
struct LtiDiagRule {
  LtiDiscretization method = LtiDiscretization::zoh;
  C alpha = C(0.5);  // generalized_bilinear only

  SSM_HD void fwd(C dt, Complex<C> lam, Complex<C>& ab, Complex<C>& bb) const {
    if (method == LtiDiscretization::zoh)
      ZohDiag<C>{}.fwd(dt, lam, ab, bb);
    else
      GbtDiag<C>{gbt_alpha()}.fwd(dt, lam, ab, bb);
  }
  SSM_HD LtiDiagGrad<C> grad(C dt, Complex<C> lam) const {
    if (method == LtiDiscretization::zoh) return ZohDiag<C>{}.grad(dt, lam);
    return GbtDiag<C>{gbt_alpha()}.grad(dt, lam);
  }
  SSM_HD C gbt_alpha() const { return method == LtiDiscretization::bilinear ? C(0.5) : alpha; }
};

// The gradients of dt and λ from those of Ā and B̄ (g_ab, g_bb: ∂L/∂Re + i ∂L/∂Im):
//   g_dt  = Re(conj(g_ab) dĀ/ddt + conj(g_bb) dB̄/ddt)        (dt real)
//   g_lam = g_ab conj(dĀ/dλ) + g_bb conj(dB̄/dλ)               (Ā, B̄ holomorphic in λ)
template <class C>
SSM_HD void lti_diag_vjp(const LtiDiagGrad<C>& d, Complex<C> g_ab, Complex<C> g_bb, C& g_dt,
                         Complex<C>& g_lam) {
  g_dt = (conj(g_ab) * d.dab_ddt).re + (conj(g_bb) * d.dbb_ddt).re;
  g_lam = g_ab * conj(d.dab_dlam) + g_bb * conj(d.dbb_dlam);
}

}  // namespace ssm
