// The selective scan's discretizations (the rules: ops/selective_scan.h): Ā and B̄ from a step dt
// and a state coefficient a, and the partial derivatives the backward needs, written once for the
// CPU scan (ops/selective_scan.cpp) and the CUDA kernels (ops/cuda/selective_scan_*.cu).
//
// What the backends do differently is a template argument, the maths policy M:
//   M::exp(x)          e^x in the compute type (CPU: core/fast_math.h's vectorisable exp for
//                      float; CUDA: one ex2.approx for float; libm's exp for double on both)
//   M::expm1(x, ex)    e^x - 1, given ex = M::exp(x) (the CPU's float series near 0 reads both,
//                      CUDA's expm1f reads x alone)
//   M::kLog2Zoh<C>     whether Zoh keeps a·log2(e) (M::kLog2e) in place of a, so that Ā = 2^(dt·
//                      coef) is one multiply and one M::exp2 (CUDA in float; its backward then
//                      takes its own zoh reverse step, in those units)
// Each rule keeps, per (channel, state), coef(a) in place of a: fwd takes it, grad takes a
// itself. Computed in the compute type C (float or double).
#pragma once

#include <cmath>

#include "core/dtype.h"  // SSM_HD

namespace ssm {

template <class C, class M>
struct Zoh {  // Ā = e^{dt a}, B̄ = dt
  static constexpr bool kLog2 = M::template kLog2Zoh<C>;
  SSM_HD C coef(C a) const {
    if constexpr (kLog2)
      return a * M::kLog2e;
    else
      return a;
  }
  SSM_HD C abar(C dt, C ac) const {
    if constexpr (kLog2)
      return M::exp2(dt * ac);
    else
      return M::exp(dt * ac);
  }
  SSM_HD void fwd(C dt, C ac, C& ab, C& bb) const {
    ab = abar(dt, ac);
    bb = dt;
  }
  // dĀ/ddt = a Ā, dĀ/da = dt Ā, dB̄/ddt = 1, dB̄/da = 0
  SSM_HD void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt, C& dbb_da) const {
    static_assert(!kLog2, "in log2 units the backward takes its own zoh step");
    ab = M::exp(dt * a);
    bb = dt;
    dab_ddt = a * ab;
    dab_da = dt * ab;
    dbb_ddt = C(1);
    dbb_da = C(0);
  }
  // log Ā, for the log-space scan
  SSM_HD C log_ab(C dt, C a) const { return dt * a; }
};

template <class C, class M>
struct ZohExact {  // Ā = e^x, B̄ = (e^x - 1) / a = dt φ(x), x = dt a, φ(x) = (e^x - 1) / x
  SSM_HD C coef(C a) const { return a; }
  SSM_HD void fwd(C dt, C a, C& ab, C& bb) const {
    C x = dt * a;
    ab = M::exp(x);
    bb = x == C(0) ? dt : M::expm1(x, ab) / a;
  }
  // dĀ/ddt = a Ā, dĀ/da = dt Ā, dB̄/ddt = e^x, dB̄/da = dt² φ'(x),
  // φ'(x) = (x e^x - (e^x - 1)) / x² (its series near 0)
  SSM_HD void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt, C& dbb_da) const {
    C x = dt * a;
    ab = M::exp(x);
    C em1 = M::expm1(x, ab);
    bb = x == C(0) ? dt : em1 / a;
    dab_ddt = a * ab;
    dab_da = dt * ab;
    dbb_ddt = ab;
    C series = C(0.5) + x * (C(1) / 3 + x * (C(1) / 8 + x * (C(1) / 30 + x * (C(1) / 144))));
    C dphi = std::fabs(x) < C(0.01) ? series : (x * ab - em1) / (x * x);
    dbb_da = dt * dt * dphi;
  }
  SSM_HD C log_ab(C dt, C a) const { return dt * a; }
};

template <class C, class M>
struct Gbt {  // den = 1 - β x, β = 1 - α, x = dt a:  Ā = (1 + α x) / den, B̄ = dt / den
  C alpha, beta;
  SSM_HD C coef(C a) const { return a; }
  SSM_HD void fwd(C dt, C a, C& ab, C& bb) const {
    C x = dt * a, inv = C(1) / (C(1) - beta * x);
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
  }
  // dĀ/ddt = a / den², dĀ/da = dt / den², dB̄/ddt = 1 / den², dB̄/da = β dt² / den²
  SSM_HD void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt, C& dbb_da) const {
    C x = dt * a, inv = C(1) / (C(1) - beta * x), inv2 = inv * inv;
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
    dab_ddt = a * inv2;
    dab_da = dt * inv2;
    dbb_ddt = inv2;
    dbb_da = beta * dt * dt * inv2;
  }
  SSM_HD C log_ab(C dt, C a) const {
    C ab, bb;
    fwd(dt, a, ab, bb);
    return std::log(ab);  // NaN when Ā <= 0: reported by the log-space scan
  }
};

}  // namespace ssm
