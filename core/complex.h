// Complex arithmetic for kernels, host and device alike (std::complex is host-only under nvcc).
//
// Complex<C> is a (real, imaginary) pair of C = float or double, laid out like one element of a
// real tensor with a trailing dim of 2 (view_as_real, core/dtype.h): a kernel may read such a
// tensor's data as Complex<C>[]. The SSM layers with complex state (S4, S4D, S5) do their complex
// maths in their own fused ops with these helpers. (The functions are named cexp, cabs, ... so
// that they do not hide the real ones from unqualified calls in namespace ssm.)
//
// Gradients follow PyTorch's convention for a real loss L of a complex z = x + iy: the gradient
// is the complex number ∂L/∂x + i ∂L/∂y. For w = f(z) holomorphic, with upstream gradient g of
// w, the gradient of z is g · conj(f'(z)); for w = f(t) of a real t, it is Re(conj(g) · f'(t)).
#pragma once

#include <cmath>

#include "core/dtype.h"  // SSM_HD

namespace ssm {

template <class C>
struct Complex {
  C re = C(0), im = C(0);
};

template <class C>
SSM_HD Complex<C> cx(C re, C im = C(0)) {
  return Complex<C>{re, im};
}

template <class C>
SSM_HD Complex<C> operator+(Complex<C> a, Complex<C> b) {
  return {a.re + b.re, a.im + b.im};
}
template <class C>
SSM_HD Complex<C> operator-(Complex<C> a, Complex<C> b) {
  return {a.re - b.re, a.im - b.im};
}
template <class C>
SSM_HD Complex<C> operator-(Complex<C> a) {
  return {-a.re, -a.im};
}
template <class C>
SSM_HD Complex<C> operator*(Complex<C> a, Complex<C> b) {
  return {a.re * b.re - a.im * b.im, a.re * b.im + a.im * b.re};
}
template <class C>
SSM_HD Complex<C> operator*(C s, Complex<C> a) {
  return {s * a.re, s * a.im};
}
template <class C>
SSM_HD Complex<C> operator*(Complex<C> a, C s) {
  return {s * a.re, s * a.im};
}
template <class C>
SSM_HD Complex<C> operator+(C s, Complex<C> a) {
  return {s + a.re, a.im};
}
template <class C>
SSM_HD Complex<C> operator-(C s, Complex<C> a) {
  return {s - a.re, -a.im};
}
template <class C>
SSM_HD Complex<C> operator+(Complex<C> a, C s) {
  return {a.re + s, a.im};
}
template <class C>
SSM_HD Complex<C> operator-(Complex<C> a, C s) {
  return {a.re - s, a.im};
}

template <class C>
SSM_HD Complex<C> conj(Complex<C> a) {
  return {a.re, -a.im};
}
template <class C>
SSM_HD C abs2(Complex<C> a) {  // |a|²
  return a.re * a.re + a.im * a.im;
}
template <class C>
SSM_HD C cabs(Complex<C> a) {
  return std::hypot(a.re, a.im);
}

// 1 / b, scaled by the larger component first (Smith's method), so |b| near the edge of C's
// range neither overflows nor underflows when squared.
template <class C>
SSM_HD Complex<C> reciprocal(Complex<C> b) {
  if (std::fabs(b.re) >= std::fabs(b.im)) {
    C r = b.im / b.re, d = b.re + b.im * r;
    return {C(1) / d, -r / d};
  }
  C r = b.re / b.im, d = b.re * r + b.im;
  return {r / d, C(-1) / d};
}
template <class C>
SSM_HD Complex<C> operator/(Complex<C> a, Complex<C> b) {
  return a * reciprocal(b);
}
template <class C>
SSM_HD Complex<C> operator/(Complex<C> a, C s) {
  return {a.re / s, a.im / s};
}

// e^z = e^re (cos im + i sin im).
template <class C>
SSM_HD Complex<C> cexp(Complex<C> z) {
  C m = std::exp(z.re);
  return {m * std::cos(z.im), m * std::sin(z.im)};
}

// e^z - 1, accurate for small |z| (where exp(z) - 1 cancels):
// Re = e^a cos b - 1 = expm1(a) cos b - 2 sin²(b/2),  Im = e^a sin b.
template <class C>
SSM_HD Complex<C> cexpm1(Complex<C> z) {
  C s = std::sin(z.im / 2);
  return {std::expm1(z.re) * std::cos(z.im) - 2 * s * s, std::exp(z.re) * std::sin(z.im)};
}

}  // namespace ssm
