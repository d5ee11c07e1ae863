// Unary elementwise functions and their derivatives, shared by the CPU and CUDA kernels.
//
// Each functor has f(x) and df(x, y) = dy/dx written in terms of the input x and/or the output y;
// `kUsesOutput` says which one backward saves (y when the derivative is cheapest from it).
// All arithmetic is in the compute type T (float or double).
#pragma once

#include <cmath>

#include "core/dtype.h"
#include "core/fast_math.h"

namespace ssm {

// Per-op constants: pow: a = exponent; softplus: a = beta, b = threshold; clamp: a = min, b = max.
struct UnaryParams {
  double a = 0, b = 0;
};

namespace fn {

// exp in the compute type: the vectorisable fast_expf for float (2 ulp), std::exp for double.
template <class T>
SSM_HD T exp(T x) {
  return exp_c(x);
}

using std::abs;
using std::erf;
using std::log;
using std::log1p;
using std::pow;
using std::sqrt;
using std::tanh;

struct Neg {
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return -x; }
  template <class T> SSM_HD static T df(T, T, const UnaryParams&) { return T(-1); }
};
struct Exp {
  static constexpr bool kUsesOutput = true;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return exp(x); }
  template <class T> SSM_HD static T df(T, T y, const UnaryParams&) { return y; }
};
struct Log {
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return log(x); }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams&) { return T(1) / x; }
};
struct Sqrt {
  static constexpr bool kUsesOutput = true;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return sqrt(x); }
  template <class T> SSM_HD static T df(T, T y, const UnaryParams&) { return T(0.5) / y; }
};
struct Rsqrt {  // y = x^-1/2, dy/dx = -y^3 / 2
  static constexpr bool kUsesOutput = true;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return T(1) / sqrt(x); }
  template <class T> SSM_HD static T df(T, T y, const UnaryParams&) { return T(-0.5) * y * y * y; }
};
struct Pow {  // y = x^a, dy/dx = a x^(a-1)
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams& p) { return pow(x, T(p.a)); }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams& p) {
    return p.a == 0 ? T(0) : T(p.a) * pow(x, T(p.a - 1));
  }
};
struct Abs {  // derivative sign(x), 0 at 0 (as PyTorch)
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return abs(x); }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams&) {
    return x > 0 ? T(1) : (x < 0 ? T(-1) : T(0));
  }
};
struct Tanh {
  static constexpr bool kUsesOutput = true;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return tanh(x); }
  template <class T> SSM_HD static T df(T, T y, const UnaryParams&) { return T(1) - y * y; }
};
struct Sigmoid {
  static constexpr bool kUsesOutput = true;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return T(1) / (T(1) + exp(-x)); }
  template <class T> SSM_HD static T df(T, T y, const UnaryParams&) { return y * (T(1) - y); }
};
struct Silu {  // y = x s(x), dy/dx = s (1 + x (1 - s))
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return x / (T(1) + exp(-x)); }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams&) {
    T s = T(1) / (T(1) + exp(-x));
    return s * (T(1) + x * (T(1) - s));
  }
};
struct Gelu {  // exact: y = x Phi(x), dy/dx = Phi(x) + x phi(x)
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) {
    return T(0.5) * x * (T(1) + erf(x * T(0.70710678118654752440)));
  }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams&) {
    T cdf = T(0.5) * (T(1) + erf(x * T(0.70710678118654752440)));
    T pdf = T(0.39894228040143267794) * exp(T(-0.5) * x * x);
    return cdf + x * pdf;
  }
};
struct GeluTanh {  // y = x/2 (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) {
    T u = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
    return T(0.5) * x * (T(1) + tanh(u));
  }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams&) {
    T u = T(0.79788456080286535588) * (x + T(0.044715) * x * x * x);
    T t = tanh(u);
    T du = T(0.79788456080286535588) * (T(1) + T(3 * 0.044715) * x * x);
    return T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
  }
};
struct Softplus {  // y = log(1 + exp(beta x)) / beta, linear above the threshold (as PyTorch)
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams& p) {
    T bx = T(p.a) * x;
    return bx > T(p.b) ? x : log1p_exp_c(bx) / T(p.a);
  }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams& p) {
    T bx = T(p.a) * x;
    return bx > T(p.b) ? T(1) : T(1) / (T(1) + exp(-bx));
  }
};
struct Relu {
  static constexpr bool kUsesOutput = true;
  template <class T> SSM_HD static T f(T x, const UnaryParams&) { return x > T(0) ? x : T(0); }
  template <class T> SSM_HD static T df(T, T y, const UnaryParams&) { return y > T(0) ? T(1) : T(0); }
};
struct Clamp {  // gradient passes where min <= x <= max (as PyTorch); NaN propagates
  static constexpr bool kUsesOutput = false;
  template <class T> SSM_HD static T f(T x, const UnaryParams& p) {
    if (x != x) return x;
    return x < T(p.a) ? T(p.a) : (x > T(p.b) ? T(p.b) : x);
  }
  template <class T> SSM_HD static T df(T x, T, const UnaryParams& p) {
    return (x >= T(p.a) && x <= T(p.b)) ? T(1) : T(0);
  }
};

}  // namespace fn
}  // namespace ssm
