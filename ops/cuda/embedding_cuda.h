// CUDA embedding for ops/embedding.cpp (CUDA builds only): plain-pointer launchers.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/launch_args.h"

namespace ssm::cuda {

struct EmbeddingProblem {
  int device = 0;
  DType dtype = DType::f32;  // weight, output, gradients
  int64_t V = 0, D = 0, N = 0;
  const void* ids = nullptr;  // int64 or int32, position n at ids_ix.offset(n)
  bool ids_i32 = false;
  NdIndex ids_ix;
};

// out (N, D) contiguous = rows of weight (strides ws0, ws1). Returns the first position whose id
// is outside [0, V), or -1; `bad_value` gets that id.
int64_t embedding_forward(const EmbeddingProblem& p, const void* weight, int64_t ws0, int64_t ws1,
                          void* out, int64_t* bad_value);

// dw (V, D) contiguous = per id, the sum of the rows of g (N, D) contiguous at its positions, in
// position order (positions sorted by id with a stable radix sort); row `pad` (or -1) stays 0.
void embedding_backward(const EmbeddingProblem& p, const void* g, int64_t pad, void* dw);

}  // namespace ssm::cuda
