// long_conv's CUDA kernel table: Tensors to the launch struct of ops/cuda/long_conv.cu, and the
// backward's scratch.
#include "ops/cuda/long_conv_cuda.h"
#include "ops/dispatch.h"
#include "ops/long_conv.h"

namespace ssm {
namespace {

cuda::LongConvLaunch launch(const LongConvArgs& a) {
  cuda::LongConvLaunch l;
  l.device = a.u.device().index;
  l.dtype = a.u.dtype();
  l.u = a.u.raw_data();
  l.Kf = a.Kf.raw_data();
  l.D = a.D.defined() ? a.D.raw_data() : nullptr;
  l.B = a.u.size(0);
  l.L = a.u.size(1);
  l.H = a.u.size(2);
  l.n = a.n;
  l.gelu = a.gelu;
  return l;
}

void forward(const LongConvArgs& a, const Tensor& y) { cuda::long_conv_forward(launch(a), y.raw_data()); }

void backward(const LongConvArgs& a, const Tensor& dy, const Tensor& du, const Tensor& dKf,
              const Tensor& dD) {
  cuda::LongConvLaunch l = launch(a);
  const int64_t chunks = cuda::long_conv_backward_chunks(l), F = a.n / 2 + 1;
  const DType dt = a.u.dtype();
  const Device dev = a.u.device();
  Tensor keep = Tensor::empty({chunks, l.H, F, 2}, dt, dev);
  Tensor part = chunks > 1 ? Tensor::empty({chunks, l.H, F, 2}, dt, dev) : dKf;
  Tensor dpart = Tensor::empty({chunks, l.H}, dt, dev);
  cuda::long_conv_backward(l, dy.raw_data(), du.raw_data(), dKf.raw_data(),
                           dD.defined() ? dD.raw_data() : nullptr, chunks, keep.raw_data(),
                           part.raw_data(), dpart.raw_data());
}

int64_t size(DType dt, int64_t need) { return cuda::long_conv_fused() ? cuda::long_conv_size(dt, need) : 0; }

const LongConvKernels kCudaKernels = {wide_float_dtypes, size, forward, backward};
SSM_REGISTER_KERNELS(LongConvKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
