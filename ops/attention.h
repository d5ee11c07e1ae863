// Scaled dot-product attention with the semantics of torch.nn.functional.
// scaled_dot_product_attention, one op with its backward: the core of the Transformer baselines
// and the hybrid layers (issue 17).
//
//   S = q k^T * scale  (+ mask)         scale defaults to 1 / sqrt(E)
//   causal: S[i, j] = -inf for j > i   (top-left aligned, as torch's is_causal)
//   P = softmax(S)  over keys;  P~ = dropout(P, p) in training;  y = P~ v
// q (..., Lq, E), k (..., Lk, E), v (..., Lk, Ev) with the same leading dims (batch, heads) ->
// y (..., Lq, Ev). mask: bool (true = may attend, as torch) or floating (added to S),
// broadcastable to (..., Lq, Lk); it takes no gradient. A query that may attend to no key gets
// y = 0 and zero gradients (torch's math path would give NaN; FlashAttention gives 0).
// float32 / float64; bf16 / f16 are computed in float32 and rounded once on the way out.
//
// Dropout draws its mask by ops/dropout.h's rule over the (..., Lq, Lk) probabilities, counters
// reserved from `gen` (the default generator when null): attention with dropout equals
// softmax, then dropout(P, p) with the same generator state, then P~ v.
//
// Backward (as FlashAttention's, from the saved log-sum-exp of each row, P recomputed):
//   dv = P~^T dy,  dP~ = dy v^T,  dP = dP~ keep / (1 - p),  D = rowsum(dy * y),
//   dS = P (dP - D),  dq = scale dS k,  dk = scale dS^T q.
//
// Kernels: the math form below on both devices (O(Lq Lk) memory per head, BLAS / cuBLAS
// products); a fused CUDA kernel (tiled, online softmax, O(L) memory) is to replace it on CUDA.
#pragma once

#include <cstdint>
#include <optional>

#include "core/rng.h"
#include "core/tensor.h"

namespace ssm {

struct AttentionOptions {
  Tensor mask;                  // bool or floating, broadcastable to (..., Lq, Lk); no gradient
  bool causal = false;          // keys after the query masked (top-left aligned)
  double dropout = 0;           // on the probabilities; applied only when `training`
  bool training = true;
  std::optional<double> scale;  // default 1 / sqrt(E)
  Generator* gen = nullptr;     // dropout's counters (the default generator when null)
};

Tensor attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 const AttentionOptions& options = {});

// ---- kernels (ops/dispatch.h): both backends register the math form (ops/attention.cpp).

struct AttentionArgs {
  Tensor q, k, v;  // (N, Lq, E), (N, Lk, E), (N, Lk, Ev); contiguous, the compute dtype
  Tensor bias;     // additive mask (N or 1, Lq, Lk) of the compute dtype (0 / -inf for bool
                   // masks), or undefined
  bool causal = false;
  double p = 0;  // dropout probability (0: none)
  double scale = 1;
  uint64_t seed = 0, base = 0;
};

struct AttentionKernels {
  bool (*supports)(DType dtype);
  // y (N, Lq, Ev), lse (N, Lq): each row's log-sum-exp of S (-inf for a row with no key).
  void (*forward)(const AttentionArgs& a, const Tensor& y, const Tensor& lse);
  void (*backward)(const AttentionArgs& a, const Tensor& y, const Tensor& lse, const Tensor& dy,
                   const Tensor& dq, const Tensor& dk, const Tensor& dv);
};

// The math form, for a backend's table.
void attention_math_forward(const AttentionArgs& a, const Tensor& y, const Tensor& lse);
void attention_math_backward(const AttentionArgs& a, const Tensor& y, const Tensor& lse,
                             const Tensor& dy, const Tensor& dq, const Tensor& dk, const Tensor& dv);

}  // namespace ssm
