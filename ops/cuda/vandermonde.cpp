// vandermonde's CUDA kernel table: Tensors to the launch struct of ops/cuda/vandermonde.cu.
#include "ops/cuda/vandermonde_cuda.h"
#include "ops/dispatch.h"
#include "ops/vandermonde.h"

namespace ssm {
namespace {

cuda::VandermondeLaunch launch(const VandermondeArgs& a) {
  cuda::VandermondeLaunch l;
  l.device = a.C.device().index;
  l.dtype = a.C.dtype();
  l.C = a.C.raw_data();
  l.dt = a.dt.raw_data();
  l.A = a.A.raw_data();
  l.Ch = a.C.size(0);
  l.H = a.C.size(1);
  l.M = a.C.size(2);
  l.L = a.L;
  l.method = a.method;
  return l;
}

void forward(const VandermondeArgs& a, const Tensor& K) { cuda::vandermonde_forward(launch(a), K.raw_data()); }

void backward(const VandermondeArgs& a, const Tensor& g, const Tensor& dC, const Tensor& ddt,
              const Tensor& dA) {
  Tensor scratch = Tensor::empty({a.C.size(1), a.C.size(2)}, a.C.dtype(), a.C.device());
  cuda::vandermonde_backward(launch(a), g.raw_data(), dC.raw_data(), ddt.raw_data(), dA.raw_data(),
                             scratch.raw_data());
}

const VandermondeKernels kCudaKernels = {wide_float_dtypes, forward, backward};
SSM_REGISTER_KERNELS(VandermondeKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
