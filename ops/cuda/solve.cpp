// solve's CUDA kernel table: Tensors to the launchers of ops/cuda/solve.cu. The zero-pivot flags
// come back to the host (one int32 per matrix) so that a singular matrix is an ssm::Error.
#include <vector>

#include "ops/cuda/solve_cuda.h"
#include "ops/dispatch.h"
#include "ops/solve.h"

namespace ssm {
namespace {

int64_t factor_solve(const Tensor& lu, const Tensor& piv, const Tensor& X) {
  int64_t batch = lu.size(0);
  Tensor info = Tensor::empty({batch}, DType::i32, lu.device());
  cuda::solve_factor(lu.raw_data(), piv.data<int32_t>(), X.raw_data(), info.data<int32_t>(),
                     lu.dtype(), batch, lu.size(1), X.size(2), lu.device().index);
  std::vector<int32_t> flags = info.cpu().to_vector<int32_t>();
  for (int64_t b = 0; b < batch; ++b)
    if (flags[size_t(b)]) return b;
  return -1;
}

void solve_transposed(const Tensor& lu, const Tensor& piv, const Tensor& X) {
  cuda::solve_transposed(lu.raw_data(), piv.data<int32_t>(), X.raw_data(), lu.dtype(),
                         lu.size(0), lu.size(1), X.size(2), lu.device().index);
}

const SolveKernels kCudaKernels = {wide_float_dtypes, factor_solve, solve_transposed};
SSM_REGISTER_KERNELS(SolveKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
