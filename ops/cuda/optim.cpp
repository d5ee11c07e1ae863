// The optimizer ops' CUDA kernel table (ops/cuda/optim.cu): one launch per call for the whole
// list, which must be contiguous on this backend.
#include <vector>

#include "ops/cuda/optim_cuda.h"
#include "ops/dispatch.h"
#include "ops/optim.h"

namespace ssm {
namespace {

void adamw_step(const AdamWArgs& a) {
  std::vector<cuda::AdamWEntry> entries;
  for (size_t i = 0; i < a.params.size(); ++i) {
    SSM_CHECK(a.grads[i].is_contiguous(), "adamw_step_: grad ", i, " (", describe(a.grads[i]),
              ") must be contiguous on CUDA");
    cuda::AdamWEntry e;
    e.p = a.params[i].raw_data();
    e.g = a.grads[i].raw_data();
    e.m = a.exp_avg[i].raw_data();
    e.v = a.exp_avg_sq[i].raw_data();
    e.n = a.params[i].numel();
    e.decay = 1 - a.lr[i] * a.weight_decay[i];
    e.step_size = a.lr[i] / a.bc1;
    e.p_dtype = a.params[i].dtype();
    e.g_dtype = a.grads[i].dtype();
    if (const Tensor& sh = a.shadows[i]; sh.defined()) {
      e.shadow = sh.raw_data();
      e.shadow_dtype = sh.dtype();
    }
    entries.push_back(e);
  }
  cuda::adamw_step(entries, a.beta1, a.beta2, a.eps, a.rbc2, a.params[0].device().index);
}

std::vector<cuda::NormEntry> norm_entries(const std::vector<Tensor>& tensors, const char* what) {
  std::vector<cuda::NormEntry> es;
  for (const Tensor& t : tensors) {
    SSM_CHECK(t.is_contiguous(), what, describe(t));
    es.push_back({t.raw_data(), t.numel(), t.dtype()});
  }
  return es;
}

Tensor global_norm(const std::vector<Tensor>& tensors) {
  std::vector<cuda::NormEntry> es =
      norm_entries(tensors, "global_grad_norm: expects contiguous tensors on CUDA, got ");
  Device dev = tensors[0].device();
  Tensor out = Tensor::empty(Shape{}, DType::f64, dev);
  cuda::global_norm(es, static_cast<double*>(out.raw_data()), dev.index);
  return out;
}

void scale(const std::vector<Tensor>& tensors, double scale) {
  std::vector<cuda::NormEntry> es =
      norm_entries(tensors, "scale_: expects contiguous tensors on CUDA, got ");
  cuda::scale(es, scale, tensors[0].device().index);
}

const OptimKernels kCudaKernels = {floating_dtypes, adamw_step, global_norm, scale};
SSM_REGISTER_KERNELS(OptimKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
