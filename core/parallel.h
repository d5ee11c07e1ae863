// CPU parallelism: one pool of threads, OpenMP's, for the library's loops and for BLAS.
//
// The build links the OpenMP build of OpenBLAS (CMakeLists.txt), whose matrix products run on the
// same OpenMP threads as parallel_for, and single-threaded when called inside a parallel region
// (so a product inside a parallel_for never starts threads of its own). set_num_threads sets the
// size of that one pool for both. The thread count starts at OMP_NUM_THREADS, else all cores.
//
// A parallel region costs a few microseconds to start and join (more when a core is busy with
// other work), so loops run serially below a grain size; blas_threads_for gives BLAS the same
// rule. Work is counted in "units": about one element read, computed on and written (for BLAS,
// one multiply-add).
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstdint>
#include <string>

namespace ssm {

// Units of work a thread must get before a parallel region pays for itself: tens of microseconds,
// against a few for starting and joining the region on idle cores. The margin is for busy ones:
// there a region waits until the scheduler runs every thread of it, which can take milliseconds,
// so a 16-token prompt's prefill, for one, is better without any.
inline constexpr int64_t kMinWorkPerThread = 131072;

// Multiply-adds per thread below which a BLAS call runs on one thread. OpenBLAS's own limits
// (gemv: 9,216 multiply-adds, gemm: 262,144 in all) start threads for products of a microsecond
// or two, as every batch-1 decoding step is made of; with this one, a decoding step's products up
// to 256 x 1024 stay on one thread, and a training step's, of millions of multiply-adds, use
// them all.
inline constexpr int64_t kMinBlasWorkPerThread = 262144;

inline int num_threads() { return omp_get_max_threads(); }

// The pool's size for parallel_for and for BLAS (at least 1).
void set_num_threads(int n);

// The grain (items per thread) for items of `work_per_item` units each.
inline int64_t grain_for_work(int64_t work_per_item) {
  return std::max<int64_t>(1, kMinWorkPerThread / std::max<int64_t>(work_per_item, 1));
}

// Calls fn(begin, end) on disjoint chunks covering [begin, end). `grain` is the smallest range
// worth a thread: every chunk gets at least that many items, so a range under two grains runs on
// the calling thread without opening a parallel region at all, as it does inside one. Chunks are
// static, so results never depend on scheduling.
template <class F>
void parallel_for(int64_t begin, int64_t end, int64_t grain, const F& fn) {
  int64_t n = end - begin;
  if (n <= 0) return;
  int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  int64_t chunks = std::min<int64_t>(threads, n / std::max<int64_t>(grain, 1));
  if (chunks <= 1) {
    fn(begin, end);
    return;
  }
#pragma omp parallel for num_threads(chunks) schedule(static, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    int64_t b = begin + n * c / chunks, e = begin + n * (c + 1) / chunks;
    if (b < e) fn(b, e);
  }
}

// The threads a BLAS call of `madds` multiply-adds should use: 1 inside a parallel region or
// below kMinBlasWorkPerThread per thread, else as many of the pool's as get that much.
inline int blas_threads_for(int64_t madds) {
  if (omp_in_parallel()) return 1;
  return int(std::clamp<int64_t>(madds / kMinBlasWorkPerThread, 1, omp_get_max_threads()));
}

// Runs the BLAS calls (and parallel_for loops) made in its scope on at most `threads` threads,
// then restores the pool's size: two writes of OpenMP's count, plus about 0.1 us where a call in
// the scope had to lower BLAS's own. Wrap a product in
// `BlasThreadLimit limit(blas_threads_for(M * N * K));`.
class BlasThreadLimit {
 public:
  explicit BlasThreadLimit(int threads);
  ~BlasThreadLimit();
  BlasThreadLimit(const BlasThreadLimit&) = delete;
  BlasThreadLimit& operator=(const BlasThreadLimit&) = delete;

 private:
  int restore_ = 0;  // the pool's size to restore; 0 when nothing was changed
};

// True when BLAS runs on the pool's threads (the OpenMP build of OpenBLAS is the one loaded);
// any other build is kept to one thread.
bool blas_on_pool();

// The threads BLAS runs a large product on now (1 where BLAS is kept serial).
int blas_num_threads();

// The BLAS this process runs and how it is threaded, e.g. "OpenBLAS 0.3.21, Haswell kernels,
// OpenMP build (runs on the library's thread pool)"; for logs and benchmark headers. Says so when
// the OpenMP build was linked but another one was loaded (LD_LIBRARY_PATH).
std::string blas_threading();

}  // namespace ssm
