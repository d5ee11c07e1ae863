// CUDA solve: one thread block per matrix runs the host-device LU of ops/small_linalg.h with the
// block as its team (the pivot search on one thread, the row swaps and the rank-1 updates over
// all of them; the triangular solves one thread per right-hand side).
#include <cuda_runtime.h>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/block_team.cuh"
#include "ops/cuda/solve_cuda.h"
#include "ops/small_linalg.h"

namespace ssm::cuda {

namespace {

template <class C>
__global__ void factor_kernel(C* lu, int32_t* piv, C* x, int32_t* info, int64_t n, int64_t k) {
  const int64_t b = blockIdx.x;
  BlockTeam team;
  int64_t zero = linalg::lu_factor(team, n, lu + b * n * n, piv + b * n);
  if (team.leader()) info[b] = zero != 0;
  linalg::lu_solve(team, n, k, lu + b * n * n, piv + b * n, x + b * n * k);
}

template <class C>
__global__ void transposed_kernel(const C* lu, const int32_t* piv, C* x, int64_t n, int64_t k) {
  const int64_t b = blockIdx.x;
  linalg::lu_solve_transposed(BlockTeam{}, n, k, lu + b * n * n, piv + b * n, x + b * n * k);
}

void check_batch(int64_t batch) {
  SSM_CHECK(batch < (int64_t(1) << 31), "solve: at most 2^31 - 1 matrices on CUDA, got ", batch);
}

}  // namespace

void solve_factor(void* lu, int32_t* piv, void* x, int32_t* info, DType dtype, int64_t batch,
                  int64_t n, int64_t k, int) {
  if (batch == 0) return;
  check_batch(batch);
  if (dtype == DType::f64)
    factor_kernel<double><<<unsigned(batch), team_threads(n), 0, stream()>>>(
        static_cast<double*>(lu), piv, static_cast<double*>(x), info, n, k);
  else
    factor_kernel<float><<<unsigned(batch), team_threads(n), 0, stream()>>>(
        static_cast<float*>(lu), piv, static_cast<float*>(x), info, n, k);
  check_launch("solve");
}

void solve_transposed(const void* lu, const int32_t* piv, void* x, DType dtype, int64_t batch,
                      int64_t n, int64_t k, int) {
  if (batch == 0) return;
  check_batch(batch);
  if (dtype == DType::f64)
    transposed_kernel<double><<<unsigned(batch), team_threads(n), 0, stream()>>>(
        static_cast<const double*>(lu), piv, static_cast<double*>(x), n, k);
  else
    transposed_kernel<float><<<unsigned(batch), team_threads(n), 0, stream()>>>(
        static_cast<const float*>(lu), piv, static_cast<float*>(x), n, k);
  check_launch("solve (backward)");
}

}  // namespace ssm::cuda
