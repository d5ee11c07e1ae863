// causal_conv1d's CUDA kernel table: Tensors to the plain launch arguments of
// ops/cuda/causal_conv1d.cu. x, weight and bias are read with their strides.
#include "core/autograd.h"
#include "ops/causal_conv1d.h"
#include "ops/cuda/causal_conv1d_cuda.h"
#include "ops/dispatch.h"

namespace ssm {
namespace {

const void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
void* mut_ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

// The weight, bias and activation fields, shared by the sequence and the single-step problems.
void set_weights(cuda::ConvProblem& p, const Tensor& weight, const Tensor& bias, bool silu) {
  p.W = weight.size(1);
  p.w = weight.raw_data();
  p.sw[0] = weight.stride(0);
  p.sw[1] = weight.stride(1);
  if (bias.defined()) {
    p.bias = bias.raw_data();
    p.sb = bias.stride(0);
  }
  p.silu = silu;
}

cuda::ConvProblem problem(const CausalConv1dArgs& a) {
  const Tensor& x = a.x;
  cuda::ConvProblem p;
  p.device = x.device().index;
  p.dtype = x.dtype();
  p.B = x.size(0);
  p.L = x.size(1);
  p.D = x.size(2);
  p.x = x.raw_data();
  for (int i = 0; i < 3; ++i) p.sx[i] = x.stride(i);
  set_weights(p, a.weight, a.bias, a.silu);
  p.seq_start = static_cast<const int32_t*>(ptr(a.seq_start));
  return p;
}

void forward(const CausalConv1dArgs& a, const Tensor& y) {
  cuda::causal_conv1d_forward(problem(a), y.raw_data());
}

void backward(const CausalConv1dArgs& a, const Tensor& gy, const Tensor& dx, const Tensor& dw,
              const Tensor& db) {
  cuda::causal_conv1d_backward(problem(a), gy.raw_data(), mut_ptr(dx), mut_ptr(dw), mut_ptr(db));
}

Tensor step(Tensor& state, const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu) {
  SSM_CHECK(!bias.defined() || bias.dtype() == weight.dtype(),
            "causal_conv1d_step: on CUDA, bias must have weight's dtype ", weight.dtype(), ", got ",
            describe(bias));
  cuda::ConvProblem p;
  p.device = state.device().index;
  p.dtype = weight.dtype();
  p.B = x.size(0);
  p.D = x.size(1);
  set_weights(p, weight, bias, silu);
  Tensor y = Tensor::empty({p.B, p.D}, x.dtype(), x.device());
  cuda::causal_conv1d_step(p, state.raw_data(), state.dtype(), x.raw_data(), x.dtype(),
                           x.stride(0), x.stride(1), y.raw_data(), y.dtype());
  return y;
}

const CausalConv1dKernels kCudaKernels = {floating_dtypes, forward, backward, step};
SSM_REGISTER_KERNELS(CausalConv1dKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
