// softmax's CUDA kernel table: the contiguous (A, C, K) arrays to the launchers of
// ops/cuda/softmax.cu.
#include "ops/cuda/softmax_cuda.h"
#include "ops/dispatch.h"
#include "ops/softmax.h"

namespace ssm {
namespace {

void forward(bool log, const Tensor& x, const SoftmaxDims& s, const Tensor& y) {
  cuda::softmax_forward(log, x.dtype(), s.A, s.C, s.K, x.raw_data(), y.raw_data());
}

void backward(bool log, const Tensor& y, const Tensor& g, const SoftmaxDims& s, const Tensor& dx) {
  cuda::softmax_backward(log, y.dtype(), s.A, s.C, s.K, y.raw_data(), g.raw_data(), dx.raw_data());
}

const SoftmaxKernels kCudaKernels = {floating_dtypes, forward, backward};
SSM_REGISTER_KERNELS(SoftmaxKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
