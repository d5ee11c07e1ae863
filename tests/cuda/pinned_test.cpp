// Host <-> device copies through pinned staging (core/cuda/transfer.cu) and the pinned host
// allocator (core/cuda/pinned.cu): exact round trips at every size around the staging threshold
// and slice size, odd addresses, strided views; sources overwritten right after each call while
// the GPU is kept busy (so the DMA is still queued when the host writes); blocks reused only
// after their copy; copies refused during graph capture; several threads at once.
#include <gtest/gtest.h>
#include <cuda_runtime.h>

#include "cuda/gpu_test.h"

#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/cuda/graph.h"
#include "core/cuda/runtime.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace ssm {
namespace {

const Device kGpu = Device::cuda(0);
constexpr size_t kMin = cuda::kStagedCopyMin;
constexpr size_t kSlice = cuda::kStagingSlice;

class CudaPinned : public ::ssm::testing::GpuTest<> {
 protected:
  void SetUp() override {
    ::ssm::testing::GpuTest<>::SetUp();
    if (::testing::Test::IsSkipped()) return;
    cap_ = cuda::pinned_stats().cap;
  }
  void TearDown() override {
    if (cuda_available()) cuda::pinned_set_cap(cap_);
    ::ssm::testing::GpuTest<>::TearDown();
  }

  // A device buffer freed at the end of the test.
  char* device_buffer(size_t n) {
    bufs_.push_back(std::shared_ptr<void>(cuda::alloc(n, 0), [n](void* p) { cuda::dealloc(p, 0); }));
    return static_cast<char*>(bufs_.back().get());
  }

  // Queues about 15 ms of memsets on the stream, so copies queued next wait behind them while
  // the host goes on.
  void keep_gpu_busy() {
    const size_t n = size_t(1) << 30;
    if (!busy_) busy_ = device_buffer(n);
    for (int i = 0; i < 48; ++i) cuda::fill_bytes(busy_, uint8_t(i), n);
  }

  size_t cap_ = 0;
  char* busy_ = nullptr;
  std::vector<std::shared_ptr<void>> bufs_;
};

std::vector<uint8_t> random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(rng());
  return v;
}

// Pattern i of n bytes: differs between iterations and along the buffer.
void fill_pattern(uint8_t* p, size_t n, int i) {
  for (size_t j = 0; j < n; ++j) p[j] = uint8_t(j * 7 + size_t(i) * 131 + 1);
}

TEST_F(CudaPinned, ByteRoundTripsOfEverySizeAndOffset) {
  const size_t sizes[] = {1,         3,      4096,          kMin - 1,   kMin,
                          kMin + 1,  (size_t(1) << 20) + 7, kSlice - 1, kSlice,
                          kSlice + 1, 3 * kSlice + 12345};
  const size_t guard = 64;
  for (size_t n : sizes) {
    for (size_t off : {size_t(0), size_t(1), size_t(13)}) {
      SCOPED_TRACE("bytes " + std::to_string(n) + ", offset " + std::to_string(off));
      std::vector<uint8_t> src = random_bytes(n + off, uint32_t(n * 3 + off));
      char* d = device_buffer(n + off + 64);
      cuda::memcpy(d + off, true, src.data() + off, false, n, 0);
      std::vector<uint8_t> back(n + off + 2 * guard, 0xab);
      cuda::memcpy(back.data() + guard + off, false, d + off, true, n, 0);
      ASSERT_EQ(std::memcmp(back.data() + guard + off, src.data() + off, n), 0);
      for (size_t j = 0; j < guard + off; ++j) ASSERT_EQ(back[j], 0xab) << "wrote before dst";
      for (size_t j = guard + off + n; j < back.size(); ++j) ASSERT_EQ(back[j], 0xab) << "wrote past dst";
    }
  }
}

TEST_F(CudaPinned, ReadbackOfDeviceComputedValues) {
  // Device -> host alone (not a round trip): values the GPU made, over several slices.
  for (int64_t n : {int64_t(1000), int64_t(kMin / 8) + 3, int64_t(5 * kSlice / 8) + 11}) {
    SCOPED_TRACE(n);
    std::vector<int64_t> got = Tensor::arange(n, DType::i64, kGpu).cpu().to_vector<int64_t>();
    ASSERT_EQ(int64_t(got.size()), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[size_t(i)], i);
  }
}

TEST_F(CudaPinned, TensorViewsWithOffsetsAndStrides) {
  Generator g(11);
  Tensor x = Tensor::randn({3, 1031, 1027}, DType::f32, &g);  // 12.7 MB: several slices
  const Tensor views[] = {x, x.select(0, 2), x.narrow(0, 1, 2), x.narrow(1, 1, 1029),
                          x.transpose(1, 2), x.narrow(2, 3, 5)};
  for (const Tensor& v : views) {
    std::vector<float> want = v.contiguous().to_vector<float>();
    EXPECT_EQ(v.to(kGpu).cpu().to_vector<float>(), want) << "host view -> device -> host";
  }
  Tensor xg = x.to(kGpu);
  EXPECT_EQ(xg.narrow(1, 1, 1029).cpu().to_vector<float>(), x.narrow(1, 1, 1029).contiguous().to_vector<float>());
  EXPECT_EQ(xg.select(0, 1).cpu().to_vector<float>(), x.select(0, 1).contiguous().to_vector<float>());
  // device -> strided host destination
  Tensor h = Tensor::zeros({1027, 1031}, DType::f32);
  h.t().copy_(xg.select(0, 2));
  EXPECT_EQ(h.t().contiguous().to_vector<float>(), x.select(0, 2).contiguous().to_vector<float>());
}

TEST_F(CudaPinned, SourceOverwrittenRightAfterEachCopy) {
  // The copies queue behind busy work, so they are still pending when the host overwrites the
  // source: each device slot must hold the bytes the source had when its copy was called.
  for (size_t n : {size_t(16) << 10, 3 * kSlice + 100}) {
    SCOPED_TRACE("bytes " + std::to_string(n));
    const int kCopies = 24;
    char* d = device_buffer(n * kCopies);
    std::vector<uint8_t> src(n);
    cudaDeviceSynchronize();
    keep_gpu_busy();
    for (int i = 0; i < kCopies; ++i) {
      fill_pattern(src.data(), n, i);
      cuda::memcpy(d + size_t(i) * n, true, src.data(), false, n, 0);
      std::memset(src.data(), 0xee, n);
    }
    std::vector<uint8_t> back(n), want(n);
    for (int i = 0; i < kCopies; ++i) {
      cuda::memcpy(back.data(), false, d + size_t(i) * n, true, n, 0);
      fill_pattern(want.data(), n, i);
      ASSERT_EQ(back, want) << "copy " << i;
    }
  }
  // The same through tensors: the source is rewritten in place after each .to().
  Tensor t = Tensor::empty({int64_t(kSlice / 2) + 5}, DType::f32);  // just over two slices
  std::vector<Tensor> on_gpu;
  keep_gpu_busy();
  for (int i = 0; i < 8; ++i) {
    t.fill_(double(i));
    on_gpu.push_back(t.to(kGpu));
  }
  t.fill_(-1.0);
  for (int i = 0; i < 8; ++i)
    EXPECT_EQ(on_gpu[size_t(i)].cpu().to_vector<float>(), std::vector<float>(size_t(t.numel()), float(i)));
}

TEST_F(CudaPinned, StagingBlocksAreReusedInSteadyState) {
  const size_t n = 3 * kSlice;  // three slices each way
  std::vector<uint8_t> src = random_bytes(n, 5), back(n);
  char* d = device_buffer(n);
  // Warm-up, partly behind busy work so that every slice of both directions is in flight at
  // once: the cache ends up with as many blocks as a round trip can ever need. (More rounds than
  // that should take, in case page-locking a block synchronises with the GPU.)
  for (int i = 0; i < 8; ++i) {
    if (i % 2 == 0) keep_gpu_busy();
    cuda::memcpy(d, true, src.data(), false, n, 0);
    cuda::memcpy(back.data(), false, d, true, n, 0);
  }
  cudaDeviceSynchronize();
  cuda::PinnedStats s0 = cuda::pinned_stats();
  const int kIters = 10;
  for (int i = 0; i < kIters; ++i) {
    src[size_t(i)] ^= 0xff;
    cuda::memcpy(d, true, src.data(), false, n, 0);
    cuda::memcpy(back.data(), false, d, true, n, 0);
    ASSERT_EQ(back, src);
  }
  cuda::PinnedStats s1 = cuda::pinned_stats();
  // One block per host -> device slice (readbacks are plain cudaMemcpy, see core/cuda/transfer.cu).
  EXPECT_EQ(s1.allocs - s0.allocs, uint64_t(kIters * 3));
  EXPECT_EQ(s1.cache_hits - s0.cache_hits, s1.allocs - s0.allocs);
  EXPECT_EQ(s1.host_allocs, s0.host_allocs) << "the steady state called cudaHostAlloc";
  EXPECT_EQ(s1.in_use, s0.in_use) << "staging blocks leaked";
  EXPECT_GE(s1.cached, 3 * kSlice);
  EXPECT_GE(s1.peak_in_use, kSlice);
}

TEST_F(CudaPinned, BlockReusedOnlyAfterItsCopyCompletes) {
  const size_t n = size_t(1) << 20;
  char* d = device_buffer(n);
  std::vector<uint8_t> back(n);
  cuda::pinned_release_cache();  // only the blocks below in this size class
  // A block freed while its copy is queued behind busy work.
  auto queue_copy_and_free = [&](uint8_t value) {
    auto* a = static_cast<uint8_t*>(cuda::pinned_alloc(n));
    std::memset(a, value, n);
    keep_gpu_busy();
    EXPECT_EQ(cudaMemcpyAsync(d, a, n, cudaMemcpyHostToDevice, 0), cudaSuccess);
    cuda::pinned_record_use(a, 0);
    cuda::pinned_free(a);
    return a;
  };

  // Under the cap: the pending block is left alone and a new one is page-locked.
  uint8_t* a = queue_copy_and_free(0x5a);
  cuda::PinnedStats s0 = cuda::pinned_stats();
  auto* b = static_cast<uint8_t*>(cuda::pinned_alloc(n));
  EXPECT_NE(b, a) << "handed out a block whose copy was still queued";
  EXPECT_EQ(cuda::pinned_stats().host_allocs, s0.host_allocs + 1);
  std::memset(b, 0, n);
  cuda::memcpy(back.data(), false, d, true, n, 0);
  EXPECT_EQ(back, std::vector<uint8_t>(n, 0x5a));
  cuda::pinned_free(b);

  // Over the cap: the oldest block comes back, after waiting for its copy.
  cuda::pinned_release_cache();
  cuda::pinned_set_cap(0);
  a = queue_copy_and_free(0x3c);
  s0 = cuda::pinned_stats();
  b = static_cast<uint8_t*>(cuda::pinned_alloc(n));
  cuda::PinnedStats s1 = cuda::pinned_stats();
  EXPECT_EQ(b, a);
  EXPECT_EQ(s1.waits, s0.waits + 1) << "the copy should still have been queued behind ~15 ms of work";
  EXPECT_EQ(s1.host_allocs, s0.host_allocs);
  std::memset(b, 0, n);  // the copy is done: this must not reach the device
  cuda::memcpy(back.data(), false, d, true, n, 0);
  EXPECT_EQ(back, std::vector<uint8_t>(n, 0x3c));
  cuda::pinned_free(b);
}

TEST_F(CudaPinned, StatisticsAddUpAndReleaseFreesTheCache) {
  cuda::pinned_release_cache();
  cuda::PinnedStats s0 = cuda::pinned_stats();
  EXPECT_EQ(s0.cached, 0u);
  void* p = cuda::pinned_alloc(100000);
  cuda::PinnedStats s1 = cuda::pinned_stats();
  EXPECT_EQ(s1.allocs, s0.allocs + 1);
  EXPECT_EQ(s1.host_allocs, s0.host_allocs + 1);
  EXPECT_GE(s1.in_use, s0.in_use + 100000);
  EXPECT_GE(s1.peak_in_use, s1.in_use);
  cuda::pinned_free(p);
  cuda::PinnedStats s2 = cuda::pinned_stats();
  EXPECT_EQ(s2.in_use, s0.in_use);
  EXPECT_EQ(s2.cached, s1.in_use - s0.in_use);
  void* q = cuda::pinned_alloc(99900);  // same size class, no copy pending: the same block
  EXPECT_EQ(q, p);
  EXPECT_EQ(cuda::pinned_stats().cache_hits, s2.cache_hits + 1);
  cuda::pinned_free(q);
  cuda::pinned_release_cache();
  cuda::PinnedStats s3 = cuda::pinned_stats();
  EXPECT_EQ(s3.cached, 0u);
  EXPECT_EQ(s3.host_frees, s2.host_frees + 1);
  EXPECT_THROW(cuda::pinned_free(p), Error) << "a released block must not be freed twice";
}

TEST_F(CudaPinned, HostCopyIsRefusedDuringGraphCapture) {
  Tensor h = Tensor::randn({int64_t(kSlice)}, DType::f32);
  Tensor dst = Tensor::zeros({int64_t(kSlice)}, DType::f32, kGpu);
  cudaDeviceSynchronize();
  cuda::PinnedStats s0 = cuda::pinned_stats();
  cuda::Graph graph;
  try {
    graph.capture(0, [&] { dst.copy_(h); });
    FAIL() << "a host -> device copy was captured";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot be recorded in a CUDA graph"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(graph.ready());
  EXPECT_EQ(cuda::pinned_stats().allocs, s0.allocs) << "staging began before the refusal";
  dst.copy_(h);  // still works once the capture is over
  EXPECT_EQ(dst.cpu().to_vector<float>(), h.to_vector<float>());
}

TEST_F(CudaPinned, ThreadsCopyAtTheSameTime) {
  const int kThreads = 4, kIters = 6;
  const size_t n = 2 * kSlice + 333;
  std::vector<char*> dev;
  for (int t = 0; t < kThreads; ++t) dev.push_back(device_buffer(n));
  std::vector<int> bad(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::vector<uint8_t> src(n), back(n);
      for (int i = 0; i < kIters; ++i) {
        fill_pattern(src.data(), n, t * 100 + i);
        cuda::memcpy(dev[size_t(t)], true, src.data(), false, n, 0);
        std::memset(src.data(), 0, n);
        cuda::memcpy(back.data(), false, dev[size_t(t)], true, n, 0);
        fill_pattern(src.data(), n, t * 100 + i);
        if (back != src) bad[size_t(t)]++;
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(bad[size_t(t)], 0) << "thread " << t;
}

}  // namespace
}  // namespace ssm
