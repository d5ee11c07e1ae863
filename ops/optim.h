// Multi-tensor optimizer ops for the trainer (train/adamw.cpp): the AdamW update, the global
// gradient norm and an in-place scale, each over a list of tensors. CPU and CUDA; on CUDA each is
// one kernel launch for the whole list (a table of pointers and sizes in device memory, blocks
// mapped to fixed-size chunks of the tensors). Not differentiable (they write in place).
//
// dtypes. params: float32, float64, bfloat16 or float16, contiguous. grads: any floating dtype,
// each converted to the param's compute type as it is loaded (bf16 grads into f32 master weights
// are fine); contiguous on CUDA (the CPU makes a contiguous copy when needed). exp_avg and
// exp_avg_sq: float64 for float64 params, float32 for the others, contiguous. Arithmetic: float64
// for float64 params, float32 for the rest.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ssm {

// One torch.optim.AdamW step (decoupled weight decay, bias correction), for every tensor i:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p = p (1 - lr_i wd_i) - (lr_i / (1 - b1^step)) m / (sqrt(v) / sqrt(1 - b2^step) + eps)
// lr and weight_decay hold one value per tensor; step counts from 1. All tensors on one device.
// shadows: empty, or one per param, each undefined or a contiguous 16-bit tensor of the param's
// shape that receives the new param rounded to its dtype (autocast's cached casts; on CUDA in the
// same kernel as the update).
void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
                 const std::vector<double>& lr, const std::vector<double>& weight_decay,
                 double beta1, double beta2, double eps, int64_t step,
                 const std::vector<Tensor>& shadows = {});

// sqrt(sum over every element of every tensor of x^2), as a 0-dim float64 tensor on the tensors'
// device (CPU for an empty list). Squares are summed in float64. CPU: the sum of each tensor's
// float64 sum(x * x), in list order (what train's clip_grad_norm always did). CUDA: per-chunk
// float64 partials added in a fixed order, so the result is reproducible run to run.
Tensor global_grad_norm(const std::vector<Tensor>& tensors);

// t = t * scale in place for every floating tensor t, with mul(t, scale)'s rounding (the scale
// is first rounded to t's dtype, the product taken in its compute type).
void scale_(const std::vector<Tensor>& tensors, double scale);

// ---- kernels (ops/dispatch.h): CPU in ops/optim.cpp, CUDA in ops/cuda/optim.cpp ----------------

// adamw_step_'s checked arguments: one grad, moment pair, lr and weight decay per param, and
// shadows one per param (undefined where none).
struct AdamWArgs {
  const std::vector<Tensor>& params;
  const std::vector<Tensor>& grads;
  const std::vector<Tensor>& exp_avg;
  const std::vector<Tensor>& exp_avg_sq;
  const std::vector<double>& lr;
  const std::vector<double>& weight_decay;
  std::vector<Tensor> shadows;
  double beta1, beta2, eps;
  double bc1;   // 1 - beta1^step
  double rbc2;  // 1 / sqrt(1 - beta2^step)
};

// The tensors are checked (defined, floating, one device); the ops bump the version counters.
struct OptimKernels {
  bool (*supports)(DType dtype);
  // The update of adamw_step_, params, moments and shadows in place.
  void (*adamw_step)(const AdamWArgs& a);
  // global_grad_norm.
  Tensor (*global_norm)(const std::vector<Tensor>& tensors);
  // scale_, in place.
  void (*scale)(const std::vector<Tensor>& tensors, double scale);
};

}  // namespace ssm
