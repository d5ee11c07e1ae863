// The elementwise ops' CUDA kernel table: Tensors to the strided operands of the launchers in
// ops/cuda/elementwise.cu and elementwise_binary.cu. Inputs are expanded to the output's shape
// as broadcast views (stride 0), never copied.
#include "core/cuda/tensor_arg.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/elementwise_kernel.h"
#include "ops/unary_functors.h"

namespace ssm {
namespace {

cuda::Arg expanded(const Tensor& t, const Shape& shape) {
  return cuda::arg_of(broadcast_view(t, shape));
}

void unary(cuda::Unary op, const UnaryParams& p, const Tensor& x, const Tensor& y) {
  cuda::unary_forward(op, p.a, p.b, cuda::dims_of(x.shape()), cuda::arg_of(y), cuda::arg_of(x));
}

void unary_backward(cuda::Unary op, const UnaryParams& p, const Tensor& g, const Tensor& s,
                    const Tensor& dx) {
  cuda::unary_backward(op, p.a, p.b, cuda::dims_of(s.shape()), cuda::arg_of(dx), cuda::arg_of(g),
                       cuda::arg_of(s));
}

void binary(cuda::Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape& shape = out.shape();
  cuda::binary(op, cuda::dims_of(shape), cuda::arg_of(out), expanded(a, shape),
               expanded(b, shape));
}

void where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  const Shape& shape = out.shape();
  cuda::where(cuda::dims_of(shape), cuda::arg_of(out), expanded(cond, shape), expanded(a, shape),
              expanded(b, shape));
}

const ElementwiseKernels kCudaKernels = {numeric_dtypes, unary, unary_backward, binary, where};
SSM_REGISTER_KERNELS(ElementwiseKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
