// cauchy's CUDA kernel table (ops/cuda/cauchy.cu): Tensors to launch arguments, the backward's
// workspaces.
#include "ops/cauchy.h"
#include "ops/cuda/cauchy_cuda.h"
#include "ops/dispatch.h"

namespace ssm {
namespace {

void forward(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& out) {
  cuda::cauchy_forward(v.device().index, v.dtype(), v.raw_data(), w.raw_data(), z.raw_data(),
                       out.raw_data(), v.size(0), v.size(1), v.size(2), z.size(0));
}

void backward(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& g, const Tensor& dv,
              const Tensor& dw) {
  const int64_t G = v.size(0), H = v.size(1), M = v.size(2), F = z.size(0);
  const int64_t NC = (F + cuda::kCauchyChunk - 1) / cuda::kCauchyChunk;
  Tensor ps = Tensor::empty({G * H * M * NC, 2}, v.dtype(), v.device());
  Tensor pt = Tensor::empty({G * H * M * NC, 2}, v.dtype(), v.device());
  cuda::cauchy_backward(v.device().index, v.dtype(), v.raw_data(), w.raw_data(), z.raw_data(),
                        g.raw_data(), dv.defined() ? dv.raw_data() : nullptr,
                        dw.defined() ? dw.raw_data() : nullptr, ps.raw_data(), pt.raw_data(), G, H,
                        M, F);
}

const CauchyKernels kCudaKernels = {wide_float_dtypes, forward, backward};
SSM_REGISTER_KERNELS(CauchyKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
