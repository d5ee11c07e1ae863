// Cross entropy between logits and class-index targets, as torch.nn.functional.cross_entropy.
//
// Legend: N = batch, C = classes, d1... = extra (spatial / sequence) dims.
//   logits: (N, C), (C) or (N, C, d1, ...)   float; the class dim is dim 1 (dim 0 when unbatched)
//   target: (N),    ()  or (N, d1, ...)      int64 or int32, each in [0, C) or == ignore_index
// Sequence models with logits (B, L, V) flatten them to (B*L, V) and the target to (B*L).
//
// Per position i with target t (eps = label_smoothing):
//   loss_i = logsumexp(x_i) - (1 - eps) x_i[t] - (eps / C) sum_c x_i[c],   0 where t == ignore_index
// reduction: none -> the per-position losses, shaped like target;
//            sum  -> their sum (0-dim);
//            mean -> their sum / the number of non-ignored positions (0-dim). As in PyTorch, the
//                    mean is NaN when every position is ignored (or there are none).
// The loss has the logits' dtype; bf16/f16 logits are computed in float32, sums in double.
//
// The forward pass computes each row's logsumexp without materialising the probabilities; it
// keeps the logits and the per-row logsumexp, and backward recomputes
//   dx_i[c] = w_i (softmax(x_i)[c] - (1 - eps) [c == t] - eps / C),
// w_i = the upstream gradient of loss_i (g, g / count or g_i), 0 for ignored positions.
//
// Errors: a target outside [0, C) that is not ignore_index names its position, value and C;
// label_smoothing outside [0, 1], mismatched shapes and non-integer targets are reported too.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

enum class Reduction { none, mean, sum };

struct CrossEntropyOptions {
  int64_t ignore_index = -100;
  double label_smoothing = 0.0;
  Reduction reduction = Reduction::mean;
};

Tensor cross_entropy(const Tensor& logits, const Tensor& target,
                     const CrossEntropyOptions& options = {});

// ---- kernels (ops/dispatch.h): CPU in ops/cross_entropy.cpp, CUDA in ops/cuda/cross_entropy.cpp

// The checked problem: logits of `shape` with the class dim `cdim`, M = the number of positions
// (the target's elements), C classes.
struct CrossEntropyArgs {
  Shape shape;
  int cdim = 1;
  int64_t M = 0, C = 0;
  CrossEntropyOptions options;
};

// What the forward keeps for the backward; each backend keeps the logits and the target in the
// layout its backward reads.
struct CrossEntropyState {
  Tensor logits;  // CPU: the (M, C) rows, class dim last (a view or a copy); CUDA: as given
  Tensor target;  // CPU: (M) int64, contiguous; CUDA: as given
  Tensor lse;     // (M) float64: each position's logsumexp (0 where ignored)
  Tensor count;   // 0-dim int64: the number of non-ignored positions
};

struct CrossEntropyKernels {
  bool (*supports)(DType logits_dtype);
  // The loss (the target's shape for reduction none, else 0-dim; logits' dtype) of logits and
  // target (checked, as given), and the state for the backward. `bad` comes in as -1; for a
  // target outside [0, C) that is not ignore_index it gets the first such position (row-major
  // over the target) and `bad_value` that target, and the op raises the error.
  Tensor (*forward)(const CrossEntropyArgs& a, const Tensor& logits, const Tensor& target,
                    CrossEntropyState& state, int64_t& bad, int64_t& bad_value);
  // dlogits (the logits' shape and dtype) from gout, the loss's gradient.
  Tensor (*backward)(const CrossEntropyArgs& a, const CrossEntropyState& state,
                     const Tensor& gout);
};

}  // namespace ssm
