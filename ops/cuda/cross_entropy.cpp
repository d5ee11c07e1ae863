// cross_entropy's CUDA kernel table: the logits and the target are read in place with their
// strides (ops/cuda/cross_entropy.cu); the gradient is written in the layout of the logits'
// contiguous copy. The state kept for the backward: the logits and the target as given, the
// per-row logsumexp and the count, both left on the device.
#include "ops/cross_entropy.h"
#include "ops/cuda/cross_entropy_cuda.h"
#include "ops/cuda/nd_index.h"
#include "ops/dispatch.h"

namespace ssm {
namespace {

// The rows of t: every dim but `cdim`, in order.
cuda::NdIndex rows_without(const Shape& shape, const Shape& strides, int cdim) {
  cuda::NdIndex ix;
  for (int d = 0; d < shape.size(); ++d) {
    if (d == cdim || shape[d] == 1) continue;
    ix.size[ix.n] = shape[d];
    ix.stride[ix.n] = strides[d];
    ++ix.n;
  }
  return ix;
}

cuda::CrossEntropyProblem problem(const CrossEntropyArgs& a, const Tensor& logits,
                                  const Tensor& target) {
  const CrossEntropyOptions& o = a.options;
  cuda::CrossEntropyProblem p;
  p.device = logits.device().index;
  p.dtype = logits.dtype();
  p.M = a.M;
  p.C = a.C;
  p.x = logits.raw_data();
  p.rows = rows_without(logits.shape(), logits.strides(), a.cdim);
  p.cs = logits.stride(a.cdim);
  p.target = target.raw_data();
  p.target_i32 = target.dtype() == DType::i32;
  p.trows = cuda::nd_index(target, target.dim());
  p.ignore = o.ignore_index;
  p.eps = o.label_smoothing;
  p.reduction = o.reduction == Reduction::none ? 0 : o.reduction == Reduction::mean ? 1 : 2;
  return p;
}

Tensor forward(const CrossEntropyArgs& a, const Tensor& logits, const Tensor& target,
               CrossEntropyState& state, int64_t& bad, int64_t& bad_value) {
  Device dev = logits.device();
  Tensor lse = Tensor::empty(Shape{a.M}, DType::f64, dev);
  Tensor count = Tensor::empty(Shape{}, DType::i64, dev);
  Tensor out = a.options.reduction == Reduction::none
                   ? Tensor::empty(target.shape(), logits.dtype(), dev)
                   : Tensor::empty(Shape{}, logits.dtype(), dev);
  bad = cuda::cross_entropy_forward(problem(a, logits, target),
                                    static_cast<double*>(lse.raw_data()),
                                    static_cast<int64_t*>(count.raw_data()), out.raw_data(),
                                    &bad_value);
  state = {logits, target, lse, count};
  return out;
}

Tensor backward(const CrossEntropyArgs& a, const CrossEntropyState& state, const Tensor& gout) {
  const Tensor &xv = state.logits, &tv = state.target;
  Tensor go = gout.is_contiguous() ? gout : gout.contiguous();
  SSM_CHECK(go.device() == xv.device() && is_floating(go.dtype()),
            "cross_entropy: backward expects a floating output gradient on ", xv.device(),
            ", got ", describe(go));
  Tensor dx = Tensor::empty(xv.shape(), xv.dtype(), xv.device());
  cuda::cross_entropy_backward(problem(a, xv, tv), static_cast<const double*>(state.lse.raw_data()),
                               static_cast<const int64_t*>(state.count.raw_data()), go.raw_data(),
                               go.dtype(), dx.raw_data(),
                               rows_without(dx.shape(), dx.strides(), a.cdim), dx.stride(a.cdim));
  return dx;
}

const CrossEntropyKernels kCudaKernels = {floating_dtypes, forward, backward};
SSM_REGISTER_KERNELS(CrossEntropyKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
