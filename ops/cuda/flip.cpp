// flip's CUDA kernel table: the copy as a walk over (out, src), to the launcher of
// ops/cuda/flip.cu.
#include "ops/cuda/flip_cuda.h"
#include "ops/dispatch.h"
#include "ops/flip.h"

namespace ssm {
namespace {

void copy(const Tensor& src, const Tensor& out) {
  cuda::flip_copy(cuda::make_walk<2>(out.shape(), {out.strides(), src.strides()}), out.raw_data(),
                  src.raw_data(), src.element_size(), src.device().index);
}

const FlipKernels kCudaKernels = {all_dtypes, copy};
SSM_REGISTER_KERNELS(FlipKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
