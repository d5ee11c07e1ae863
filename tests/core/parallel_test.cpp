// The thread pool (core/parallel.h): one setting for OpenMP and BLAS, no parallel region for work
// below the grain, chunks that depend only on the range and the thread count.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/parallel.h"
#include "core/rng.h"
#include "ops/matmul.h"
#include "support/compare.h"

namespace ssm {
namespace {

// Restores the thread count a test changed.
struct KeepThreads {
  int saved = num_threads();
  ~KeepThreads() { set_num_threads(saved); }
};

TEST(Parallel, SetNumThreadsSetsOpenMPAndBlas) {
  KeepThreads keep;
  for (int n : {1, 2, 3, 1}) {
    set_num_threads(n);
    EXPECT_EQ(num_threads(), n);
    // The OpenMP build follows the pool; any other build is kept to one thread.
    EXPECT_EQ(blas_num_threads(), blas_on_pool() ? n : 1) << blas_threading();
  }
  set_num_threads(0);  // at least one
  EXPECT_EQ(num_threads(), 1);
}

TEST(Parallel, TheLoadedBlasIsTheLinkedOne) {
  // Fails when the build linked the OpenMP OpenBLAS but the loader found another (the RUNPATH
  // set by CMakeLists.txt lost to LD_LIBRARY_PATH, say).
  EXPECT_EQ(blas_threading().find("not the OpenMP build"), std::string::npos) << blas_threading();
}

TEST(Parallel, BlasThreadLimitRestoresThePool) {
  KeepThreads keep;
  Generator gen(3);
  Tensor a = Tensor::randn({256, 256}, DType::f32, &gen);
  set_num_threads(1);
  Tensor one_thread = matmul(a, a);  // OpenBLAS's bits differ between its 1- and 2-thread paths
  set_num_threads(2);
  int blas = blas_num_threads();
  {
    BlasThreadLimit limit(1);
    if (blas_on_pool()) {
      EXPECT_EQ(num_threads(), 1);  // what the OpenMP build reads for its next call
    }
    // A product OpenBLAS threads when it may runs on one thread: the 1-thread bits.
    EXPECT_CLOSE(matmul(a, a), one_thread, (testing::Tol{0, 0}));
  }
  EXPECT_EQ(num_threads(), 2);
  EXPECT_EQ(blas_num_threads(), blas);
  {
    BlasThreadLimit limit(blas_threads_for(kMinBlasWorkPerThread * 100));  // enough for all
    EXPECT_EQ(num_threads(), 2);
  }
}

TEST(Parallel, BlasThreadsForCountsWorkPerThread) {
  KeepThreads keep;
  set_num_threads(4);
  EXPECT_EQ(blas_threads_for(1), 1);
  EXPECT_EQ(blas_threads_for(2 * kMinBlasWorkPerThread - 1), 1);
  EXPECT_EQ(blas_threads_for(2 * kMinBlasWorkPerThread), 2);
  EXPECT_EQ(blas_threads_for(100 * kMinBlasWorkPerThread), 4);
  int inside = 0;
  parallel_for(0, 4, 1, [&](int64_t, int64_t) {
    if (omp_get_thread_num() == 0) inside = blas_threads_for(100 * kMinBlasWorkPerThread);
  });
  EXPECT_EQ(inside, 1);  // inside a parallel region BLAS runs on one thread
}

TEST(Parallel, NoRegionBelowTheGrain) {
  KeepThreads keep;
  set_num_threads(2);
  bool in_region = true;
  int calls = 0;
  // 2 * grain - 1 items: one chunk, run on the calling thread without a parallel region.
  parallel_for(0, 2 * 100 - 1, 100, [&](int64_t b, int64_t e) {
    in_region = omp_in_parallel();
    ++calls;
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 199);
  });
  EXPECT_FALSE(in_region);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(grain_for_work(1), kMinWorkPerThread);
  EXPECT_EQ(grain_for_work(kMinWorkPerThread * 2), 1);
  EXPECT_EQ(grain_for_work(0), kMinWorkPerThread);
}

TEST(Parallel, ChunksCoverTheRangeOnceAndDependOnlyOnTheThreadCount) {
  KeepThreads keep;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    std::vector<std::atomic<int>> hits(1001);
    std::vector<std::pair<int64_t, int64_t>> chunks(size_t(threads), {-1, -1});
    parallel_for(5, 1001, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) hits[size_t(i)]++;
      int64_t c = (b - 5) * threads / (1001 - 5);  // this chunk's index
      chunks[size_t(c)] = {b, e};
    });
    for (int64_t i = 0; i < 1001; ++i) EXPECT_EQ(hits[size_t(i)].load(), i >= 5 ? 1 : 0) << i;
    for (int c = 0; c < threads; ++c) {
      EXPECT_EQ(chunks[size_t(c)].first, 5 + 996 * c / threads);
      EXPECT_EQ(chunks[size_t(c)].second, 5 + 996 * (c + 1) / threads);
    }
  }
}

}  // namespace
}  // namespace ssm
