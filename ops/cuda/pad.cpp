// pad's CUDA kernel table: sizes, strides and left pads to the plain PadArg of
// ops/cuda/pad_cuda.h; the kernel (ops/cuda/pad.cu) applies pad.cpp's coordinate maps.
#include "ops/cuda/pad_cuda.h"
#include "ops/dispatch.h"
#include "ops/pad.h"

namespace ssm {
namespace {

void pad(const Tensor& x, const std::vector<int64_t>& left, PadMode mode, const Tensor& fill,
         const Tensor& out) {
  cuda::PadArg a;
  a.ndim = x.dim();
  a.mode = int(mode);
  a.numel = out.numel();
  for (int k = 0; k < x.dim(); ++k) {
    a.out_size[k] = out.shape()[k];
    a.in_size[k] = x.shape()[k];
    a.in_stride[k] = x.strides()[k];
    a.left[k] = left[size_t(k)];
  }
  cuda::pad(a, out.raw_data(), x.raw_data(), fill.raw_data(), x.element_size(), x.device().index);
}

const PadKernels kCudaKernels = {all_dtypes, pad};
SSM_REGISTER_KERNELS(PadKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
