// CUDA cross_entropy for ops/cross_entropy.cpp (CUDA builds only): plain-pointer launchers.
// The maths is the CPU op's (ops/cross_entropy.h); logsumexp in float32 (float64 for float64
// logits), per-row logsumexp kept in float64, sums in float64 in a fixed order.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/launch_args.h"

namespace ssm::cuda {

struct CrossEntropyProblem {
  int device = 0;
  DType dtype = DType::f32;  // logits (and loss, and gradient)
  int64_t M = 0, C = 0;
  const void* x = nullptr;   // row m at rows.offset(m), class c at + c * cs
  NdIndex rows;
  int64_t cs = 1;
  const void* target = nullptr;  // int64 or int32, element m at trows.offset(m)
  bool target_i32 = false;
  NdIndex trows;
  int64_t ignore = -100;
  double eps = 0;
  int reduction = 1;  // 0 none, 1 mean, 2 sum
};

// Writes lse (M doubles), count (one int64: the non-ignored positions) and out: (M) contiguous
// losses for reduction none, else one element. Returns the first (lowest) position whose target
// is outside [0, C) and not ignore_index, or -1; `bad_value` gets its target.
int64_t cross_entropy_forward(const CrossEntropyProblem& p, double* lse, int64_t* count, void* out,
                              int64_t* bad_value);

// dx: laid out like the logits' contiguous copy (row m at dx_rows.offset(m), class stride dx_cs),
// in p.dtype. gout: (M) contiguous for reduction none, else one element, of dtype gdt.
void cross_entropy_backward(const CrossEntropyProblem& p, const double* lse, const int64_t* count,
                            const void* gout, DType gdt, void* dx, const NdIndex& dx_rows,
                            int64_t dx_cs);

}  // namespace ssm::cuda
