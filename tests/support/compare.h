// Comparison under the one tolerance rule of the tests (Tol and default_tol, in ops/op_info.h
// beside the op table that uses them). Any override in a test carries a comment saying why.
#pragma once

#include <string>

#include "core/tensor.h"
#include "ops/op_info.h"

namespace ssm::testing {

// Empty string when close; otherwise a description of the worst element and the aggregate.
std::string compare(const Tensor& actual, const Tensor& expected, Tol tol);

}  // namespace ssm::testing

// EXPECT_CLOSE(actual, expected, tol): a gtest assertion on ssm::testing::compare.
#define EXPECT_CLOSE(actual, expected, tol)                                       \
  do {                                                                            \
    std::string ssm_cmp_msg = ::ssm::testing::compare((actual), (expected), (tol)); \
    EXPECT_TRUE(ssm_cmp_msg.empty()) << ssm_cmp_msg;                              \
  } while (0)
