// The linear recurrence with a complex diagonal state matrix: S5's scan (and the building block of
// the selective variants that make the diagonal input-dependent).
//
// Dims: B = batch, L = time, P = complex modes. Complex values are real pairs in a trailing dim
// of 2 (real, imaginary), as torch.view_as_real gives; time is dim 1, modes are contiguous.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

// x_k = λ_k x_{k-1} + b_k elementwise in the complex numbers, x_{-1} = 0; with `reverse` the
// scan runs from the end: x_k = λ_k x_{k+1} + b_k, x_L = 0 (bidirectional S5's second scan).
// b: (B, L, P, 2); lambda: (P, 2) time-invariant (S5), or (B, L, P, 2) one per step -> x:
// (B, L, P, 2), every state. float32 / float64, lambda in b's dtype and device.
// seq_start (B, L), optional, int32 / int64 / bool: nonzero where a packed sequence starts.
// No state crosses a start: forwards x_k = b_k where seq_start[k] is set; in reverse x_k = b_k
// where seq_start[k + 1] is set (position k ends a sequence).
// chunks (CPU only; 0: from the thread count): time chunks of the CPU's parallel scan. Each chunk
// is scanned from zero with the product of its λ's, the chunks' carries are combined in order,
// and a second pass adds each carry times the running product of λ. Results agree with the
// sequential order to rounding.
//
// Saved for backward: lambda, the states x, seq_start. With μ_k the factor that multiplies the
// previous state (λ_k, or 0 at a reset or at the scan's first position), the adjoint h = dL/dx
// (complex gradients: ∂L/∂Re + i ∂L/∂Im) is the same scan the other way with conj(λ):
//   h_k = g_k + conj(μ_{k+d}) h_{k+d}        (d = +1 forwards, -1 in reverse)
//   db_k = h_k,   dλ_k = h_k conj(x_{k-d}) where μ_k ≠ 0 (else 0),
// the time-invariant dλ summed over (B, L).
Tensor diag_scan(const Tensor& lambda, const Tensor& b, bool reverse = false,
                 const Tensor& seq_start = Tensor(), int64_t chunks = 0);

// ---- kernels (ops/dispatch.h): CPU in ops/diag_scan.cpp, CUDA in ops/cuda/diag_scan.cpp

// The checked inputs: lambda (P, 2) or (B, L, P, 2), contiguous, in b's dtype; seq_start (B, L)
// int32 contiguous or undefined. `adjoint`: the factor at position k is conj(λ) of the previous
// position in this scan's order (conj(λ_{k-d})), which makes the scan the backward of the
// opposite one; resets follow the direction alone, so both use the same seq_start.
struct DiagScanArgs {
  Tensor lambda, seq_start;
  bool per_step = false;
  bool reverse = false;
  bool adjoint = false;
  int64_t chunks = 0;
};

struct DiagScanKernels {
  bool (*supports)(DType dtype);
  // x = the scan of b (B, L, P, 2) contiguous; x: (B, L, P, 2) contiguous, distinct from b.
  void (*scan)(const DiagScanArgs& a, const Tensor& b, const Tensor& x);
  // out_k = h_k conj(x_{k-d}) where position k has a previous state in a's (non-adjoint) scan,
  // else 0. h, x, out: (B, L, P, 2) contiguous.
  void (*lambda_grad)(const DiagScanArgs& a, const Tensor& h, const Tensor& x, const Tensor& out);
};

}  // namespace ssm
