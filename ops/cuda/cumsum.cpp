// cumsum's CUDA kernel table: the positions outside the summed dim as a walk over (x, out), to the
// launcher of ops/cuda/cumsum.cu.
#include "ops/cuda/cumsum_cuda.h"
#include "ops/cumsum.h"
#include "ops/dispatch.h"

namespace ssm {
namespace {

void cumsum(const Tensor& x, int d, bool reverse, const Tensor& out) {
  Shape rest = x.shape(), xs = x.strides(), os = out.strides();
  rest.erase(d);
  xs.erase(d);
  os.erase(d);
  cuda::cumsum(cuda::make_walk<2>(rest, {xs, os}), x.raw_data(), x.dtype(), out.raw_data(),
               out.dtype(), x.shape()[d], x.strides()[d], out.strides()[d], reverse,
               x.device().index);
}

const CumsumKernels kCudaKernels = {real_dtypes, cumsum};
SSM_REGISTER_KERNELS(CumsumKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
