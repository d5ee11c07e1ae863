// The one thread pool: OpenMP's, shared with OpenBLAS (core/parallel.h).
#include "core/parallel.h"

#include <cblas.h>

#include <sstream>

namespace ssm {

namespace {

// openblas_get_parallel(): 0 for a sequential build, 1 for the pthread build, 2 for OpenMP.
int blas_build() {
  static const int kind = openblas_get_parallel();
  return kind;
}

// The threads BLAS may use when the pool has n. The OpenMP build runs on the pool itself (and,
// called inside a parallel region, on one thread: OpenBLAS's num_cpu_avail). Any other build is
// kept to one: a pthread build's own pool busy-waits against OpenMP's for the cores (on 2 cores
// every 2-thread run was slower than 1 thread), so its products run serially and parallel_for is
// the only source of threads.
int blas_threads(int n) { return blas_build() == 2 ? n : 1; }

// At load, BLAS is given the pool's size: OMP_NUM_THREADS (else all cores) is the one setting
// for both, whatever OPENBLAS_NUM_THREADS says.
const bool kSynced = [] {
  set_num_threads(omp_get_max_threads());
  return true;
}();

}  // namespace

void set_num_threads(int n) {
  n = std::max(n, 1);
  omp_set_num_threads(n);
  // The OpenMP build follows omp_get_max_threads() by itself, except that once its count has
  // dropped to one it stays there until told otherwise (num_cpu_avail), so it is always told.
  openblas_set_num_threads(blas_threads(n));
}

// Only OpenMP's count is lowered: the OpenMP build reads it in every call it would thread and then
// lowers its own to match (goto_set_num_threads, which also frees per-thread buffers), so a call
// too small for OpenBLAS to thread anyway costs no more than two writes of OpenMP's count (a
// decoding step is mostly such calls). BLAS's own count is put back only where a call lowered it.
BlasThreadLimit::BlasThreadLimit(int threads) {
  if (blas_build() != 2 || omp_in_parallel()) return;  // already one thread
  int n = omp_get_max_threads();
  if (threads >= n) return;
  omp_set_num_threads(std::max(threads, 1));
  restore_ = n;
}

BlasThreadLimit::~BlasThreadLimit() {
  if (restore_ == 0) return;
  omp_set_num_threads(restore_);
  if (openblas_get_num_threads() != restore_) openblas_set_num_threads(restore_);
}

bool blas_on_pool() { return blas_build() == 2; }

int blas_num_threads() { return blas_on_pool() ? openblas_get_num_threads() : 1; }

std::string blas_threading() {
  std::istringstream config(openblas_get_config());  // "OpenBLAS 0.3.21 DYNAMIC_ARCH ..."
  std::string name, version;
  config >> name >> version;
  std::ostringstream os;
  os << name << ' ' << version << ", " << openblas_get_corename() << " kernels, ";
  switch (blas_build()) {
    case 2: os << "OpenMP build (runs on the library's thread pool)"; break;
    case 1: os << "pthread build (kept to 1 thread)"; break;
    default: os << "sequential build"; break;
  }
#ifdef SSM_LINKED_OPENBLAS_OPENMP
  if (blas_build() != 2) os << "; not the OpenMP build this binary was linked with (LD_LIBRARY_PATH?)";
#endif
  return os.str();
}

}  // namespace ssm
