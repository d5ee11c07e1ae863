// dropout's CUDA kernel table (ops/cuda/dropout.cu): x read in place with its strides, element i
// in row-major order.
#include "ops/cuda/dropout_cuda.h"
#include "ops/dispatch.h"
#include "ops/dropout.h"

namespace ssm {
namespace {

void apply_mask(const Tensor& x, const Tensor& y, double p, double scale, uint64_t seed,
                uint64_t base) {
  cuda::dropout(cuda::make_walk<2>(x.shape(), {y.strides(), x.strides()}), y.raw_data(),
                x.raw_data(), x.dtype(), p, scale, seed, base, x.device().index);
}

const DropoutKernels kCudaKernels = {floating_dtypes, apply_mask};
SSM_REGISTER_KERNELS(DropoutKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
