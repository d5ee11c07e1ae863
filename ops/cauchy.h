// The Cauchy kernel of S4 (Gu, Goel & Ré, "Efficiently Modeling Long Sequences with Structured
// State Spaces", ICLR 2022, §3.3): a Cauchy matrix-vector product evaluated at many nodes, the
// step that turns a DPLR state matrix into its convolution kernel's spectrum.
//
// Dims: G = the batch dims of v (flattened; any number, also none), H = channels (independent
// systems), M = poles per channel (half the state: conjugate symmetry), F = evaluation nodes.
// Complex values are real tensors with a trailing dim of 2 (real, imaginary).
#pragma once

#include "core/tensor.h"

namespace ssm {

// Each pole is summed with its conjugate (the systems are real, so S4 stores one of each pair):
//   out[g, h, f] = sum_m  v[g, h, m] / (z[f] - w[h, m])  +  conj(v[g, h, m]) / (z[f] - conj(w[h, m]))
// v: (..., H, M, 2), w: (H, M, 2), z: (F, 2) -> out: (..., H, F, 2); float32 / float64, one dtype
// and device. No (H, M, F) intermediate is formed: each node's sum runs over M in registers.
// (S4's reference, models/s4/s4.py cauchy_naive, concatenates the conjugates and sums over 2M;
// this is that sum.)
//
// Backward (nothing saved but the inputs; the terms 1/(z - w) are recomputed). With
// c = 1/(z[f] - w[h, m]), c' = 1/(z[f] - conj(w[h, m])) and G = the output gradient (real-pair
// convention grad = dL/dRe + i dL/dIm, for which y = a x gives grad_x = conj(a) grad_y and
// y = a conj(x) gives grad_x = a conj(grad_y)):
//   dv[g, h, m] = sum_f conj(c) G[g, h, f] + c' conj(G[g, h, f])
//   dw[h, m]    = sum_g conj(v[g, h, m]) sum_f (conj(c^2) G[g, h, f] + c'^2 conj(G[g, h, f]))
//                 (d/dw v/(z - w) = v c^2;  d/dconj(w) conj(v)/(z - conj(w)) = conj(v) c'^2)
// The nodes z get no gradient (S4's are fixed: the bilinear images of the roots of unity).
Tensor cauchy(const Tensor& v, const Tensor& w, const Tensor& z);

// ---- kernels (ops/dispatch.h): CPU in ops/cauchy.cpp, CUDA in ops/cuda/cauchy.cpp. All tensors
// contiguous; v: (G, H, M, 2), w: (H, M, 2), z: (F, 2).

struct CauchyKernels {
  bool (*supports)(DType dtype);
  // out: (G, H, F, 2)
  void (*forward)(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& out);
  // g: (G, H, F, 2) -> dv: (G, H, M, 2), dw: (H, M, 2) (either may be undefined: not wanted)
  void (*backward)(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& g,
                   const Tensor& dv, const Tensor& dw);
};

}  // namespace ssm
