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

// exp in the compute type: the vectorisable float version, std::exp for double.
SSM_HD float exp_c(float x) { return fast_expf(x); }
SSM_HD double exp_c(double x) { return std::exp(x); }

}  // namespace ssm
