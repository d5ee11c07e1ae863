// The Vandermonde kernel of a diagonal LTI system (S4D: Gu, Gupta, Goel & Ré, "On the
// Parameterization and Initialization of Diagonal State Space Models", 2022, §3; state-spaces/s4,
// models/s4/s4d.py), with its discretization fused in.
//
// Dims: Ch = kernel channels (1, or 2 for a bidirectional layer), H = channels (d_model),
// M = complex modes (N/2), L = kernel length. Complex values are real pairs in a trailing dim of
// 2 (torch.view_as_real).
//
// For each channel h and mode m, the continuous system x' = λ x + u (λ = A[h, m], B folded into
// C) is discretized with step dt[h] by `method` (ops/lti_discretization.h):
//   zoh       Ā = e^{dt λ},                     B̄ = (e^{dt λ} - 1) / λ
//   bilinear  Ā = (1 + dt λ/2) / (1 - dt λ/2),  B̄ = dt / (1 - dt λ/2)
// and the kernel is the real part of a Vandermonde product (the conjugate modes give the 2 Re):
//   K[c, h, l] = 2 Re( sum_m C[c, h, m] B̄[h, m] Ā[h, m]^l ),  l = 0 .. L-1
// C: (Ch, H, M, 2), dt: (H) > 0, A: (H, M, 2) -> K: (Ch, H, L); float32 / float64, one dtype
// and device.
//
// Ā^l is computed as e^{x l} = e^{Re x · l} (cos(Im x · l), sin(Im x · l)) with x = log Ā (dt λ
// for zoh, as s4d.py; the principal log for bilinear), never as a running product (whose rounding
// grows with l), and with Im x reduced to [-π, π] first (exact for whole l, and it keeps the
// angle small at long L). No (H, M, L) tensor is made: each output sums its M terms on the fly.
//
// Why discretization is fused (rather than K = 2 Re sum v e^{x l} over given v, x): the complex
// maths of B̄ and log Ā has no elementwise ops of its own, and the rules' derivatives are already
// written once, for host and device, in ops/lti_discretization.h.
//
// Nothing is saved but the inputs. Backward recomputes e^{x l}: with v = C B̄ and
//   S0[c, h, m] = sum_l g[c, h, l] conj(Ā^l),   S1[c, h, m] = sum_l l g[c, h, l] conj(Ā^l)
// (PyTorch's convention: the gradient of a complex z is ∂L/∂Re z + i ∂L/∂Im z)
//   dv = 2 S0          dC = dv conj(B̄)         dB̄ = sum_c dv conj(C)
//   dx = 2 sum_c conj(v) S1   (K is 2 Re of a holomorphic function of x)
//   zoh:       x = dt λ:   ddt += Re(conj(dx) λ),  dλ += dx dt
//   bilinear:  x = log Ā:  dĀ = dx conj(1/Ā)
// and then dt and λ from dĀ, dB̄ through the rule's derivatives (lti_diag_vjp); ddt sums over m.
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "ops/lti_discretization.h"

namespace ssm {

// method: zoh or bilinear (generalized_bilinear is refused: S4D has no use for it).
Tensor vandermonde(const Tensor& C, const Tensor& dt, const Tensor& A, int64_t L,
                   LtiDiscretization method = LtiDiscretization::zoh);

// Ā and C B̄ for the recurrent (step) form of the same system, x_k = Ā x_{k-1} + u_k,
// y_k = 2 Re(sum_m (C B̄)[c, h, m] x_k[m]): Ab (H, M, 2) and CB (Ch, H, M, 2), on the inputs'
// device, no gradient (made once per decoding state).
struct VandermondeRecurrence {
  Tensor Ab, CB;
};
VandermondeRecurrence vandermonde_recurrence(const Tensor& C, const Tensor& dt, const Tensor& A,
                                             LtiDiscretization method = LtiDiscretization::zoh);

// ---- kernels (ops/dispatch.h): CPU in ops/vandermonde.cpp, CUDA in ops/cuda/vandermonde.cpp.

struct VandermondeArgs {
  Tensor C, dt, A;  // contiguous, (Ch, H, M, 2), (H), (H, M, 2)
  int64_t L = 0;
  LtiDiscretization method = LtiDiscretization::zoh;
};

struct VandermondeKernels {
  bool (*supports)(DType dtype);
  // K: (Ch, H, L), contiguous.
  void (*forward)(const VandermondeArgs& a, const Tensor& K);
  // g: (Ch, H, L) contiguous -> dC (Ch, H, M, 2), ddt (H), dA (H, M, 2), all written.
  void (*backward)(const VandermondeArgs& a, const Tensor& g, const Tensor& dC, const Tensor& ddt,
                   const Tensor& dA);
};

}  // namespace ssm
