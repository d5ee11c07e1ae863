// The per-mode maths of the vandermonde op (ops/vandermonde.h), written once for the CPU and
// CUDA kernels (SSM_HD): a mode's Ā, B̄ and log-node x, the power Ā^l = e^{x l}, and the
// gradients of C, dt and λ from the mode's sums S0, S1.
#pragma once

#include <cmath>

#include "core/complex.h"
#include "ops/lti_discretization.h"

namespace ssm::vdm {

inline constexpr int kMaxChannels = 2;

template <class T>
struct Mode {
  Complex<T> ab, bb, x;  // Ā, B̄, x = log Ā with Im x in [-π, π]
};

template <class T>
SSM_HD Mode<T> mode(T dt, Complex<T> lam, LtiDiscretization method) {
  Mode<T> m;
  LtiDiagRule<T> rule{method};
  rule.fwd(dt, lam, m.ab, m.bb);
  if (method == LtiDiscretization::zoh)
    m.x = dt * lam;
  else
    m.x = cx(T(0.5) * std::log(abs2(m.ab)), std::atan2(m.ab.im, m.ab.re));
  // e^{i l (θ + 2πk)} = e^{i l θ} for whole l: reduced in double, so the shift is exact to T.
  const double two_pi = 6.283185307179586476925286766559;
  m.x.im = T(::remainder(double(m.x.im), two_pi));
  return m;
}

// e^{x l}
template <class T>
SSM_HD Complex<T> power(Complex<T> x, T l) {
  T mag = std::exp(x.re * l), s, c;
#ifdef __CUDA_ARCH__
  sincos(x.im * l, &s, &c);
#else
  s = std::sin(x.im * l);
  c = std::cos(x.im * l);
#endif
  return {mag * c, mag * s};
}

// Gradients of one mode from S0[c] = sum_l g[c, l] conj(Ā^l), S1[c] = sum_l l g[c, l] conj(Ā^l)
// (ops/vandermonde.h states the derivation): dC[c], and this mode's share of ddt, and dλ.
template <class T>
SSM_HD void backward(T dt, Complex<T> lam, LtiDiscretization method, int channels,
                     const Complex<T>* C, const Complex<T>* S0, const Complex<T>* S1,
                     Complex<T>* dC, T& ddt, Complex<T>& dlam) {
  LtiDiagRule<T> rule{method};
  LtiDiagGrad<T> d = rule.grad(dt, lam);
  Complex<T> dbb{}, dx{};
  for (int c = 0; c < channels; ++c) {
    Complex<T> dv = T(2) * S0[c];
    dC[c] = dv * conj(d.bb);
    dbb = dbb + dv * conj(C[c]);
    dx = dx + T(2) * (conj(C[c] * d.bb) * S1[c]);
  }
  Complex<T> dab{};
  T extra_dt = T(0);
  Complex<T> extra_lam{};
  if (method == LtiDiscretization::zoh) {  // x = dt λ directly (no division by a tiny Ā)
    extra_dt = (conj(dx) * lam).re;
    extra_lam = dt * dx;
  } else {
    dab = dx * conj(reciprocal(d.ab));
  }
  lti_diag_vjp(d, dab, dbb, ddt, dlam);
  ddt += extra_dt;
  dlam = dlam + extra_lam;
}

}  // namespace ssm::vdm
