// Branch-free float exp that the compiler can vectorise (std::exp is a library call it cannot).
// Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2, then a degree-6 polynomial for e^r
// (the Cephes expf coefficients) and 2^k built from the exponent bits. Relative error below
// 2e-7 (about 2 ulp) on [-87, 88]; 0 below -87.3, +inf above 88.7.
#pragma once

#include <cmath>
#include <cstdint>

#include "core/dtype.h"

namespace ssm {

SSM_HD float fast_expf(float x) {
  float xc = x < -87.3f ? -87.3f : (x > 88.7f ? 88.7f : x);
  float k = std::floor(xc * 1.44269504088896341f + 0.5f);
  float r = xc - k * 0.693359375f + k * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  float scale = bits_f32(uint32_t(int32_t(k) + 127) << 23);
  float y = p * scale;
  y = x < -87.3f ? 0.0f : y;
  return x > 88.7f ? INFINITY : y;
}

// Branch-free natural log for finite x > 0 (what softplus needs; no NaN/inf/denormal handling):
// x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) from the Cephes logf polynomial in f = m - 1.
// Relative error below 3e-7 on normal inputs.
SSM_HD float fast_logf(float x) {
  uint32_t b = f32_bits(x);
  int32_t e = int32_t((b >> 23) & 0xff) - 126;
  float m = bits_f32((b & 0x7fffffu) | 0x3f000000u);  // [0.5, 1)
  bool small = m < 0.707106781186547524f;
  e = small ? e - 1 : e;
  float f = small ? m + m - 1.0f : m - 1.0f;
  float z = f * f;
  float p = 7.0376836292e-2f;
  p = p * f - 1.1514610310e-1f;
  p = p * f + 1.1676998740e-1f;
  p = p * f - 1.2420140846e-1f;
  p = p * f + 1.4249322787e-1f;
  p = p * f - 1.6668057665e-1f;
  p = p * f + 2.0000714765e-1f;
  p = p * f - 2.4999993993e-1f;
  p = p * f + 3.3333331174e-1f;
  float ef = float(e);
  float y = p * f * z - 2.12194440e-4f * ef - 0.5f * z;
  return f + y + 0.693359375f * ef;
}

// log(1 + y) for y >= 0, accurate for tiny y too: with u = 1 + y rounded, log(u) * y / (u - 1)
// cancels the rounding of u (Goldberg's trick).
SSM_HD float fast_log1pf(float y) {
  float u = 1.0f + y;
  float d = u - 1.0f;
  float r = fast_logf(u) * (y / (d == 0.0f ? 1.0f : d));
  return d == 0.0f ? y : r;
}

// exp, log1p and softplus in the compute type: the vectorisable float versions, libm for double.
SSM_HD float exp_c(float x) { return fast_expf(x); }
SSM_HD double exp_c(double x) { return std::exp(x); }
SSM_HD float log1p_exp_c(float x) { return fast_log1pf(fast_expf(x)); }
SSM_HD double log1p_exp_c(double x) { return std::log1p(std::exp(x)); }

}  // namespace ssm
