// The norms' CUDA kernel table (ops/cuda/norm.cu). layer_norm / rms_norm read x, the output
// gradient, weight and bias with their strides; add_rms_norm / add_layer_norm read contiguous rows
// (the op makes x, residual and the gradients contiguous, a no-op for the model's activations).
#include "core/autograd.h"
#include "ops/cuda/nd_index.h"
#include "ops/cuda/norm_cuda.h"
#include "ops/dispatch.h"
#include "ops/norm.h"

namespace ssm {
namespace {

const void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
void* mut_ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

cuda::NormProblem problem(const NormArgs& a) {
  const Tensor& x = a.x;
  cuda::NormProblem p;
  p.device = x.device().index;
  p.dtype = x.dtype();
  p.D = x.size(-1);
  p.R = p.D == 0 ? 0 : x.numel() / p.D;
  p.x = x.raw_data();
  p.rows = cuda::nd_index(x, x.dim() - 1);
  p.sd = x.stride(-1);
  if (a.weight.defined()) {
    p.w = a.weight.raw_data();
    p.ws = a.weight.stride(0);
  }
  if (a.bias.defined()) {
    p.b = a.bias.raw_data();
    p.bs = a.bias.stride(0);
  }
  p.eps = a.eps;
  p.rms = a.rms;
  return p;
}

void forward(const NormArgs& a, const Tensor& y, const NormStats& s) {
  cuda::norm_forward(problem(a), y.raw_data(), mut_ptr(s.mean), s.rstd.raw_data());
}

// The output gradient must arrive in x's dtype (no conversion on this backend).
void backward(const NormArgs& a, const NormStats& s, const Tensor& gy, const Tensor& dx,
              const Tensor& dw, const Tensor& db) {
  const Tensor& xv = a.x;
  SSM_CHECK(gy.dtype() == xv.dtype() && gy.device() == xv.device(),
            a.rms ? "rms_norm" : "layer_norm",
            ": backward expects the output gradient in the input's dtype and device, got ",
            describe(gy));
  cuda::norm_backward(problem(a), gy.raw_data(), cuda::nd_index(gy, gy.dim() - 1), gy.stride(-1),
                      ptr(s.mean), s.rstd.raw_data(), mut_ptr(dx), mut_ptr(dw), mut_ptr(db));
}

// weight and bias are read contiguous.
cuda::AddNormProblem add_problem(DType xdt, DType rdt, const Tensor& weight, const Tensor& bias,
                                 int64_t rows, int64_t D, Device dev, double eps, bool rms) {
  cuda::AddNormProblem p;
  p.device = dev.index;
  p.dtype = xdt;
  p.rdtype = rdt;
  p.wdtype = weight.defined() ? weight.dtype() : bias.defined() ? bias.dtype() : xdt;
  p.R = rows;
  p.D = D;
  p.w = ptr(weight);
  p.b = ptr(bias);
  p.eps = eps;
  p.rms = rms;
  return p;
}

void add_forward(const AddNormArgs& a, const Tensor& y, const Tensor& r, const NormStats& s) {
  const Tensor& x = a.x;
  int64_t D = x.size(-1), rows = D == 0 ? 0 : x.numel() / D;
  Tensor w2 = a.weight.defined() ? a.weight.detach().contiguous() : Tensor();
  Tensor b2 = a.bias.defined() ? a.bias.detach().contiguous() : Tensor();
  cuda::AddNormProblem p =
      add_problem(x.dtype(), r.dtype(), w2, b2, rows, D, x.device(), a.eps, a.rms);
  cuda::add_norm_forward(p, x.raw_data(), ptr(a.residual), y.raw_data(), r.raw_data(),
                         mut_ptr(s.mean), s.rstd.raw_data());
}

void add_backward(const Tensor& rv, const Tensor& wv, const NormStats& s, const Tensor& gy,
                  const Tensor& gr, const Tensor& dx, const Tensor& dres, const Tensor& dw) {
  int64_t D = rv.size(-1), rows = D == 0 ? 0 : rv.numel() / D;
  Tensor w2 = wv.defined() ? wv.contiguous() : Tensor();
  cuda::add_norm_backward(add_problem(gy.dtype(), rv.dtype(), w2, Tensor(), rows, D, rv.device(),
                                      0.0, !s.mean.defined()),
                          rv.raw_data(), gy.raw_data(), ptr(gr), ptr(s.mean), s.rstd.raw_data(),
                          mut_ptr(dx), mut_ptr(dres), mut_ptr(dw));
}

const NormKernels kCudaKernels = {floating_dtypes, forward, backward, add_forward, add_backward};
SSM_REGISTER_KERNELS(NormKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
