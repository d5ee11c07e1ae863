// The one tolerance rule of the tests: an element passes when
//   |actual - expected| <= atol + rtol * |expected|
// and, over the whole tensor, the relative RMS error sqrt(sum (a - e)^2 / sum e^2) stays below
// `rms` (when set). Defaults per dtype; any override in a test carries a comment saying why.
#pragma once

#include <string>

#include "core/tensor.h"

namespace ssm::testing {

struct Tol {
  double atol;
  double rtol;
  double rms = 0;  // 0: no aggregate bound
};

Tol default_tol(DType dt);

// Empty string when close; otherwise a description of the worst element and the aggregate.
std::string compare(const Tensor& actual, const Tensor& expected, Tol tol);

}  // namespace ssm::testing

// EXPECT_CLOSE(actual, expected, tol): a gtest assertion on ssm::testing::compare.
#define EXPECT_CLOSE(actual, expected, tol)                                       \
  do {                                                                            \
    std::string ssm_cmp_msg = ::ssm::testing::compare((actual), (expected), (tol)); \
    EXPECT_TRUE(ssm_cmp_msg.empty()) << ssm_cmp_msg;                              \
  } while (0)
