// The CUDA caching allocator: a training-like loop reaches a steady state that calls cudaMalloc
// no more, and the statistics add up.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "ops/reduce.h"
#include "ops/selective_scan.h"

namespace ssm {
namespace {

bool cache_enabled() {
  const char* e = std::getenv("SSM_CUDA_CACHE");
  return !(e && std::string(e) == "0");
}

// One forward + backward of a selective scan on the GPU; everything it allocates dies with it.
void step(Generator& g) {
  const int64_t B = 2, L = 128, D = 96, N = 16;
  Device dev = Device::cuda();
  Tensor u = Tensor::randn({B, L, D}, DType::f32, &g).to(dev).requires_grad_(true);
  Tensor delta = Tensor::randn({B, L, D}, DType::f32, &g).to(dev).requires_grad_(true);
  Tensor A = Tensor::full({D, N}, -1.0, DType::f32).to(dev).requires_grad_(true);
  Tensor Bm = Tensor::randn({B, L, N}, DType::f32, &g).to(dev).requires_grad_(true);
  Tensor Cm = Tensor::randn({B, L, N}, DType::f32, &g).to(dev).requires_grad_(true);
  Tensor out = selective_scan(u, delta, A, Bm, Cm, Tensor(), Tensor(), Tensor());
  out.backward(Tensor::randn({B, L, D}, DType::f32, &g).to(dev));
}

TEST(CudaAllocator, SteadyStateDoesNoCudaMalloc) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  if (!cache_enabled()) GTEST_SKIP() << "SSM_CUDA_CACHE=0 disables the cache";
  Generator g(7);
  for (int i = 0; i < 2; ++i) step(g);  // warm-up fills the free lists
  cuda::AllocatorStats s0 = cuda::allocator_stats(0);
  for (int i = 0; i < 5; ++i) step(g);
  cuda::AllocatorStats s1 = cuda::allocator_stats(0);
  EXPECT_EQ(s1.cuda_mallocs, s0.cuda_mallocs) << "the steady-state loop called cudaMalloc";
  EXPECT_GT(s1.allocs, s0.allocs);
  EXPECT_EQ(s1.cache_hits - s0.cache_hits, s1.allocs - s0.allocs);
  EXPECT_EQ(s1.in_use, s0.in_use) << "the loop leaked device memory";
  EXPECT_GE(s1.peak_in_use, s1.in_use);
  EXPECT_GT(s1.cached, 0u);
}

TEST(CudaAllocator, ReleaseReturnsCachedBlocks) {
  if (!cuda_available()) GTEST_SKIP() << "no CUDA device visible";
  if (!cache_enabled()) GTEST_SKIP() << "SSM_CUDA_CACHE=0 disables the cache";
  {
    Tensor t = Tensor::empty({1 << 20}, DType::f32, Device::cuda());
    cuda::AllocatorStats s = cuda::allocator_stats(0);
    EXPECT_GE(s.in_use, size_t(4) << 20);
    EXPECT_GE(s.peak_in_use, s.in_use);
  }
  cuda::AllocatorStats s = cuda::allocator_stats(0);
  EXPECT_GE(s.cached, size_t(4) << 20);
  {
    // Same size again: served from the cache.
    Tensor t = Tensor::empty({1 << 20}, DType::f32, Device::cuda());
    EXPECT_EQ(cuda::allocator_stats(0).cuda_mallocs, s.cuda_mallocs);
  }
  cuda::allocator_release_cache();
  cuda::AllocatorStats r = cuda::allocator_stats(0);
  EXPECT_EQ(r.cached, 0u);
  EXPECT_GT(r.cuda_frees, s.cuda_frees);
}

}  // namespace
}  // namespace ssm
