// CUDA matrix_exp: one thread block per matrix runs the host-device algorithm of
// ops/small_linalg.h (scaling and squaring with Padé) with the block as its team; its scratch
// (six n x n matrices and the pivots per matrix) is one device buffer.
#include <cuda_runtime.h>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/block_team.cuh"
#include "ops/cuda/matrix_exp_cuda.h"
#include "ops/small_linalg.h"

namespace ssm::cuda {

namespace {

template <class C>
__global__ void matrix_exp_kernel(const C* a, C* out, C* work, int32_t* piv, int64_t n) {
  const int64_t b = blockIdx.x;
  linalg::matrix_exp(BlockTeam{}, n, a + b * n * n, out + b * n * n,
                     work + b * linalg::matrix_exp_scratch(n), piv + b * n);
}

template <class C>
void launch(const void* a, void* out, int64_t batch, int64_t n, int device) {
  size_t work_bytes = size_t(batch * linalg::matrix_exp_scratch(n)) * sizeof(C);
  size_t piv_bytes = size_t(batch * n) * sizeof(int32_t);
  C* work = static_cast<C*>(alloc(work_bytes, device));
  int32_t* piv = static_cast<int32_t*>(alloc(piv_bytes, device));
  matrix_exp_kernel<C><<<unsigned(batch), team_threads(n), 0, stream()>>>(
      static_cast<const C*>(a), static_cast<C*>(out), work, piv, n);
  check_launch("matrix_exp");
  // The caching allocator hands these blocks out again only to work queued behind this kernel.
  dealloc(work, device);
  dealloc(piv, device);
}

}  // namespace

void matrix_exp(const void* a, void* out, DType dtype, int64_t batch, int64_t n, int device) {
  if (batch == 0 || n == 0) return;
  SSM_CHECK(batch < (int64_t(1) << 31), "matrix_exp: at most 2^31 - 1 matrices on CUDA, got ",
            batch);
  if (dtype == DType::f64)
    launch<double>(a, out, batch, n, device);
  else
    launch<float>(a, out, batch, n, device);
}

}  // namespace ssm::cuda
