// The fixture of every GPU test: skips without a visible GPU (so CI, which has none, passes), and
// NaN-poisons every device allocation while the test runs, so an output element a kernel fails to
// write shows up as NaN instead of a stale value.
#pragma once

#include <gtest/gtest.h>

#include "core/cuda/runtime.h"
#include "core/device.h"

namespace ssm::testing {

template <class Base = ::testing::Test>
class GpuTest : public Base {
 protected:
  void SetUp() override {
    if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible";
    cuda::set_alloc_poison(true);
  }
  void TearDown() override {
    if (cuda_available()) cuda::set_alloc_poison(false);
  }
};

}  // namespace ssm::testing
