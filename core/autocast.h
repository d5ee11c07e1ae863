// Mixed precision: while an AutocastGuard is alive on a thread, the layers of nn/ run their
// matrix products in a 16-bit dtype (bf16 or f16) on CUDA tensors, as torch.autocast does.
//
// Parameters stay float32 master weights; the layers cast them (and float32 activations) to the
// autocast dtype where a product is taken, and the cast is differentiable, so gradients reach the
// float32 weights. Norms, the selective scan and the loss compute in float32 internally, the
// residual stream stays float32, and A_log, D, the Δ bias and the norm weights are never cast.
// CPU tensors are never cast (the CPU trains in float32).
#pragma once

#include <optional>

#include "core/tensor.h"

namespace ssm {

// The thread's autocast dtype, if autocast is on.
std::optional<DType> autocast_dtype();

class AutocastGuard {
 public:
  explicit AutocastGuard(std::optional<DType> dtype);  // nullopt: autocast off inside
  ~AutocastGuard();
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  std::optional<DType> prev_;
};

// `t` cast to the autocast dtype when autocast is on, t is a float32 CUDA tensor; else t itself.
// The casts of parameters (leaves that require grad) are cached until the outermost guard ends:
// inference casts each weight once, and training once per optimizer step at most (with grad
// mode on, the cached cast comes back as a fresh differentiable cast of the parameter, so the
// gradient still reaches it). A weight written since (its storage version moved) is cast again,
// unless its writer refreshed the cast too (autocast_shadow below). A CUDA graph recorded under
// autocast reads the cached casts: do not update the weights while it is replayed.
Tensor autocast(const Tensor& t);

// For an optimizer that writes a parameter in place: the cached cast of `param` if there is one
// and it is current (else an undefined Tensor). An optimizer that also writes the rounded new
// values into it (AdamW does, in the same kernel) then calls autocast_shadow_written(param), so
// that the next forward uses the cast without casting again. The cast's storage version moves,
// so a graph that saved the old cast for backward refuses to run (as for any in-place write).
Tensor autocast_shadow(const Tensor& param);
void autocast_shadow_written(const Tensor& param);

}  // namespace ssm
