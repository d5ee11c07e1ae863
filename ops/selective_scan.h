// The selective scan of Mamba (Gu & Dao, 2023), fused: Δ bias + softplus, discretization, the
// linear recurrence over time, the C readout, the D skip and the SiLU(z) gate, with backward.
//
// Dimension legend: B batch, L length, D channels (d_inner), N state size. Channels are last.
//   u      (B, L, D)   input
//   delta  (B, L, D)   Δ before bias and softplus
//   A      (D, N)      continuous-time state matrix (diagonal per channel), usually -exp(A_log)
//   Bm, Cm (B, L, N)   input-dependent input and output projections
//   Dskip  (D)         optional skip;  z (B, L, D) optional gate;  delta_bias (D) optional
// For every b, d, n, with dt = softplus(delta + delta_bias) (or delta + delta_bias):
//   h_t = Ā(dt, A) h_{t-1} + B̄(dt, A) Bm_t u_t,   y_t = Σ_n Cm_t h_t + Dskip u_t,   out = y · silu(z)
// Discretizations (α as in the configs: 1 forward Euler, 0 backward Euler, ½ bilinear; the maths,
// with the derivatives, in ops/discretization.h, shared by the CPU and CUDA kernels):
//   zoh                   Ā = exp(dt A), B̄ = dt                         (Mamba's)
//   zoh_exact             Ā = exp(dt A), B̄ = (exp(dt A) - 1) / A         (→ dt as dt A → 0)
//   bilinear              generalized_bilinear with α = ½
//   generalized_bilinear  Ā = (1 + α dt A) / (1 - (1-α) dt A), B̄ = dt / (1 - (1-α) dt A)
// Algorithms (forward only; they agree to rounding, backward is the same exact reverse scan):
//   sequential  one pass over time per (b, channel block)
//   parallel    time split into chunks scanned concurrently, then chained (helps when B·D is
//               too small to occupy the threads)
//   log_space   Heinsen's formulation: h_t = exp(log Ā*_t) Σ_s B̄_s x_s / Ā*_s with cumulative
//               log-sum-exps (positive and negative parts apart); needs Ā > 0
// Backward keeps the states every `chunk` steps from the forward and recomputes the rest.
// Arithmetic is in float32 for float32/bfloat16/float16 inputs (float64 for float64).
// On CUDA (ops/cuda/selective_scan_forward.cu and _backward.cu) every algorithm runs the one GPU
// kernel: each thread scans time sequentially for a few states of one channel, and batch,
// channels and state slices give the parallelism; results agree with the CPU to rounding and
// are reproducible run to run.
// Inputs may be strided and of mixed floating dtypes there; log_space's Ā > 0 check is CPU-only.
#pragma once

#include <span>
#include <vector>

#include "core/tensor.h"
#include "ops/scan_options.h"

namespace ssm {

// Returns out (B, L, D) in u's dtype. With `final_state`, also returns h_L (B, D, N) in the
// compute dtype (not differentiable), the state that continues the sequence step by step.
//
// Packed variable-length batches: seq_start (B, L), int32 / int64 / bool on u's device, nonzero
// where a new sequence starts (position 0 of each row always starts one). At a start the state is
// reset before the update, h_t = B̄_t Bm_t u_t (Ā_t taken as 0), so nothing flows across the
// boundary, forward or backward: each packed sequence gives exactly what it gives alone. The
// final state is then that of the row's last sequence. Supported by the sequential and parallel
// algorithms and on CUDA; log_space rejects it on the CPU.
Tensor selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& Bm,
                      const Tensor& Cm, const Tensor& Dskip, const Tensor& z,
                      const Tensor& delta_bias, const SelectiveScanOptions& opt = {},
                      Tensor* final_state = nullptr, const Tensor& seq_start = Tensor());

// One recurrent step (no autograd), for generation: state (B, D, N) in the compute dtype is
// updated in place. x, dt, z: (B, D); Bm, Cm: (B, N). Returns out (B, D) in x's dtype.
Tensor selective_scan_step(Tensor& state, const Tensor& x, const Tensor& delta, const Tensor& A,
                           const Tensor& Bm, const Tensor& Cm, const Tensor& Dskip,
                           const Tensor& z, const Tensor& delta_bias,
                           const SelectiveScanOptions& opt = {});

// ---- kernels (ops/dispatch.h): CPU in ops/selective_scan.cpp, CUDA in ops/cuda/selective_scan.cpp

// The checked inputs as given (floating, possibly strided, dtypes possibly mixed): u, delta, z
// (B, L, D), A (D, N), Bm, Cm (B, L, N), Dskip and delta_bias (D); Dskip, z and delta_bias
// undefined when absent. seq_start: (B, L) int32 contiguous, or undefined.
struct SelectiveScanArgs {
  Tensor u, delta, A, Bm, Cm, Dskip, z, delta_bias, seq_start;
  SelectiveScanOptions opt;
};

struct SelectiveScanKernels {
  bool (*supports)(DType u_dtype);
  // Returns out (B, L, D) in u's dtype, and h_L in *final_state when final_state is set. With
  // `keep` set, also fills it with what this backend's backward reads (its own choice: the
  // inputs as it holds them, the states kept every chunk steps); the op holds them until then.
  Tensor (*forward)(const SelectiveScanArgs& a, Tensor* final_state, std::vector<Tensor>* keep);
  // The gradients of u, delta, A, Bm, Cm, Dskip, z and delta_bias (in that order) from gout, the
  // gradient of out, and what the forward kept: grads[i] shaped like input i, in any floating
  // dtype (the op casts it to the input's), set where want[i] and input i is defined.
  void (*backward)(std::span<const Tensor> kept, const SelectiveScanOptions& opt,
                   const Tensor& gout, const bool (&want)[8], Tensor (&grads)[8]);
  // The step as declared above, on checked inputs given as sequences of length 1 (u, delta, z:
  // (B, 1, D); Bm, Cm: (B, 1, N)); updates state in place and returns out (B, D) in u's dtype.
  Tensor (*step)(Tensor& state, const SelectiveScanArgs& a);
};

}  // namespace ssm
