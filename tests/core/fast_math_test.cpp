// The vectorisable float exp / log / log1p against libm in double, over their whole useful range.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/fast_math.h"

namespace ssm {
namespace {

// Relative error of f against ref, in units of float epsilon.
double rel_eps(double f, double ref) {
  return std::fabs(f - ref) / std::fabs(ref) / double(std::numeric_limits<float>::epsilon());
}

TEST(FastMath, ExpWithinThreeUlpOverItsRange) {
  double worst = 0;
  for (float x = -87.0f; x < 88.0f; x += 0.000731f) worst = std::max(worst, rel_eps(fast_expf(x), std::exp(double(x))));
  EXPECT_LT(worst, 3.0);
  EXPECT_EQ(fast_expf(-100.0f), 0.0f);
  EXPECT_EQ(fast_expf(100.0f), std::numeric_limits<float>::infinity());
}

TEST(FastMath, LogWithinThreeUlpFromTinyToHuge) {
  double worst = 0;
  for (float x = 1.2e-38f; x < 3e38f; x *= 1.000917f) worst = std::max(worst, rel_eps(fast_logf(x), std::log(double(x))));
  // Near 1 log is tiny, so the relative error is measured against an absolute floor.
  for (float x = 0.5f; x < 2.0f; x += 1.37e-6f) {
    double ref = std::log(double(x));
    if (std::fabs(ref) > 1e-3) worst = std::max(worst, rel_eps(fast_logf(x), ref));
  }
  EXPECT_LT(worst, 3.0);
  EXPECT_EQ(fast_logf(1.0f), 0.0f);
}

TEST(FastMath, Log1pExpIsSoftplusToThreeUlp) {
  double worst = 0;
  for (float x = -100.0f; x < 20.0f; x += 0.000613f) {
    double ref = std::log1p(std::exp(double(x)));
    if (ref < 1e-37) continue;  // below float's normal range
    worst = std::max(worst, rel_eps(log1p_exp_c(x), ref));
  }
  EXPECT_LT(worst, 3.0);
  // tiny y keeps full relative precision (log1p, not log(1 + y))
  EXPECT_NEAR(fast_log1pf(1e-10f) / 1e-10f, 1.0, 1e-6);
}

}  // namespace
}  // namespace ssm
