// matrix_exp's CUDA kernel table: Tensors to the launcher of ops/cuda/matrix_exp.cu.
#include "ops/cuda/matrix_exp_cuda.h"
#include "ops/dispatch.h"
#include "ops/matrix_exp.h"

namespace ssm {
namespace {

void forward(const Tensor& A, const Tensor& out) {
  cuda::matrix_exp(A.raw_data(), out.raw_data(), A.dtype(), A.size(0), A.size(1),
                   A.device().index);
}

const MatrixExpKernels kCudaKernels = {wide_float_dtypes, forward};
SSM_REGISTER_KERNELS(MatrixExpKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
