// CUDA multi-tensor optimizer kernels for ops/optim.cpp (CUDA builds only).
// Each launcher uploads a table of its tensors (asynchronously, from pageable memory) and runs
// one kernel over all of them: block b takes chunk b of the tensors laid end to end in chunks.
#pragma once

#include <cstdint>
#include <vector>

#include "core/dtype.h"

namespace ssm::cuda {

struct AdamWEntry {
  void* p = nullptr;        // param, contiguous, p_dtype
  const void* g = nullptr;  // grad, contiguous, g_dtype
  void* m = nullptr;        // exp_avg and exp_avg_sq: float64 for float64 params, else float32
  void* v = nullptr;
  int64_t n = 0;
  double decay = 1;         // 1 - lr * weight_decay
  double step_size = 0;     // lr / (1 - beta1^step)
  DType p_dtype = DType::f32, g_dtype = DType::f32;
  void* shadow = nullptr;   // null, or receives the new param rounded to shadow_dtype (16-bit)
  DType shadow_dtype = DType::bf16;
};

// rbc2 = 1 / sqrt(1 - beta2^step).
void adamw_step(const std::vector<AdamWEntry>& entries, double beta1, double beta2, double eps,
                double rbc2, int device);

struct NormEntry {
  void* p = nullptr;  // contiguous floating tensor
  int64_t n = 0;
  DType dtype = DType::f32;
};

// Writes sqrt(sum of squares) of every element of every entry to `out` (one double on the
// device), summed in float64 in a fixed order.
void global_norm(const std::vector<NormEntry>& entries, double* out, int device);

// x = x * scale in place, scale first rounded to each entry's dtype (mul's rounding).
void scale(const std::vector<NormEntry>& entries, double scale, int device);

}  // namespace ssm::cuda
