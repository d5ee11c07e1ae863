// glu's CUDA kernel table (ops/cuda/glu.cu).
#include "ops/cuda/glu_cuda.h"
#include "ops/dispatch.h"
#include "ops/glu.h"

namespace ssm {
namespace {

void forward(const Tensor& x, const Tensor& y, int64_t outer, int64_t inner) {
  cuda::glu_forward(x.dtype(), x.raw_data(), y.raw_data(), outer, inner);
}

void backward(const Tensor& x, const Tensor& dy, const Tensor& dx, int64_t outer, int64_t inner) {
  cuda::glu_backward(x.dtype(), x.raw_data(), dy.raw_data(), dx.raw_data(), outer, inner);
}

const GluKernels kCudaKernels = {floating_dtypes, forward, backward};
SSM_REGISTER_KERNELS(GluKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
