// The size classes shared by the CUDA device and pinned host allocators (core/cuda/size_class.h,
// plain C++, so checked on the CPU): a class holds the request, is a multiple of 512 bytes, wastes
// at most 12.5% above 1 MiB, and never shrinks as the request grows (so a freed block serves
// every request of its class).
#include <gtest/gtest.h>

#include <cstddef>

#include "core/cuda/size_class.h"

namespace ssm {
namespace {

TEST(CudaSizeClass, HoldsTheRequestWithBoundedSlack) {
  for (size_t n = 1; n < (size_t(1) << 31); n = n * 5 / 4 + 1) {
    for (size_t m : {n, n + 1, n + 511}) {
      size_t c = cuda::size_class(m);
      SCOPED_TRACE(m);
      EXPECT_GE(c, m);
      EXPECT_EQ(c % 512, 0u);
      if (m >= (size_t(1) << 20)) EXPECT_LE(double(c - m), 0.125 * double(m));
      else EXPECT_LT(c - m, 512u);
      EXPECT_LE(c, cuda::size_class(m + 1));
    }
  }
  // Requests in one class share it: the staging slices of a large copy are one class.
  EXPECT_EQ(cuda::size_class(4u << 20), cuda::size_class((4u << 20) - 1000));
  EXPECT_EQ(cuda::size_class(1), 512u);
  EXPECT_EQ(cuda::size_class(512), 512u);
  EXPECT_EQ(cuda::size_class(513), 1024u);
}

}  // namespace
}  // namespace ssm
