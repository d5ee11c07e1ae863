// The S4 layer (Gu, Goel & Ré, "Efficiently Modeling Long Sequences with Structured State Spaces",
// ICLR 2022) as a mixer, following S4Block / FFTConv / SSMKernelDPLR of state-spaces/s4
// (models/s4/s4.py, the standalone file) with its defaults: HiPPO-LegS DPLR init, rank 1,
// dt_transform exp, bilinear discretization, GELU (exact) after the convolution, a GLU output
// linear.
//
//   u = x (B, L, H) as (B, H, L);  K = the SSM kernel (one per channel, two when bidirectional)
//   y = fft_conv(u, K) + D u  ->  dropout -> GELU -> dropout -> output_linear (H -> 2H) -> GLU
//
// Dims: B = batch, L = length, H = d_model (one SSM per channel), N = d_state (the full state),
// M = N/2 (complex modes kept: the conjugate of each is implied), c = kernel channels (2 when
// bidirectional, else 1), Lm = l_max.
//
// Parameters (names relative to the mixer; s4.py's S4Block has D and kernel.* under `layer.`):
//   kernel.inv_dt  (H, 1)        log Δ (s4.py's name for dt_transform 'exp'); Δ = exp(inv_dt),
//                                initialised log-uniform in [dt_min, dt_max]
//   kernel.A_real  (H, M)        log(-Re Λ): Re Λ = -exp(A_real) (real_transform 'exp')
//   kernel.A_imag  (H, M)        -Im Λ (imag_transform 'none'); Λ = -exp(A_real) - i A_imag
//   kernel.B       (1, H, M, 2)  B̃ (the input vector in the eigenbasis)
//   kernel.P       (1, H, M, 2)  P̃ (rank 1): A = diag(Λ) - P̃ P̃ᴴ over the 2M modes with conjugates
//   kernel.C       (c, H, M, 2)  C̃ = C (I - Ā^Lm), the output vector premultiplied for the
//                                truncated generating function at length Lm = l_max (the S4
//                                paper's C̃; s4.py's _setup_C for l_kernel = l_max)
//   D              (1, H)        skip
//   output_linear.0.weight (2H, H), output_linear.0.bias (2H): s4.py's LinearActivation with
//                                transposed=False (an nn.Linear), then GLU over the last dim
//                                (first half * sigmoid(second half))
//
// Kernel: at the nodes z_j = 2(1 - ω^j)/(1 + ω^j), ω = e^{-2πi/Lm}, j < Lm/2 + 1, the four
// Cauchy sums r[a, b] = Σ (Δ a_m b_m) / (z - Δλ_m) (+ conjugates) for a in {B̃, P̃}, b in {C̃, P̃*}
// (ops/cauchy.h), the Woodbury identity for the rank-1 term,
//   K̂(ω) = 2/(1 + ω) (r[B,C] - r[B,P*] r[P,C] / (1 + r[P,P*])),
// and K = irfft(K̂, Lm): the Lm taps of the bilinear-discretized system. An input of length L
// uses the first min(L, Lm) taps (s4.py's FFTConv with l_max: a longer input sees a kernel cut
// at Lm, and then step mode, which runs the SSM itself, differs from the forward).
//
// Step mode: the bilinear DPLR recurrence in O(M) per channel,
//   (2/Δ - A) x_k = (2/Δ + A) x_{k-1} + 2 B u_k   (Woodbury for the rank-1 solve),
//   y_k = 2 Re(C x_k) + D u_k,
// with C recovered from C̃ by one dense solve per channel at new_state (host, float64).
#pragma once

#include <memory>

#include "core/rng.h"
#include "core/schema.h"
#include "nn/linear.h"
#include "nn/mixer.h"

namespace ssm::nn {

struct S4Config {
  int64_t d_model = 768;  // from the architecture
  DType dtype = DType::f32;
  bool causal = true;  // from the architecture: refuses bidirectional

  int64_t d_state = 64;  // N, the full state size: N/2 complex modes are stored
  int64_t rank = 1;      // of the low-rank term; LegS needs 1, the only value supported
  double dt_min = 1e-3, dt_max = 0.1;
  int64_t l_max = 1024;  // kernel length: C̃'s length, and the most taps an input sees
  bool bidirectional = false;
  double dropout = 0.0;

  int64_t modes() const { return d_state / 2; }
  int64_t channels() const { return bidirectional ? 2 : 1; }

  static const schema::Section<S4Config>& section();
  static S4Config from(const json& options, const MixerContext& ctx);
};

// The step-mode constants of one layer (H, M, 2 complex unless said), made by new_state.
struct S4StepParams {
  Tensor E;       // 2/Δ + Λ
  Tensor Dw;      // 1/(2/Δ - Λ)
  Tensor P;       // P̃
  Tensor DwP;     // Dw P̃
  Tensor B2;      // 2 B̃
  Tensor Cconj;   // conj(C), C recovered from C̃
  Tensor denom;   // (H, 1, 1) real: 1 + 2 Re Σ conj(P̃) Dw P̃
};

struct S4State final : MixerState {
  Tensor x;  // (B, H, M, 2): the complex state, one of each conjugate pair
  std::shared_ptr<const S4StepParams> params;
  std::vector<Tensor*> rows() override { return {&x}; }
};

class S4Kernel : public Module {
 public:
  S4Kernel(const S4Config& cfg, Generator& gen);
  // The kernel's first `taps` (<= l_max) taps: (c, H, taps).
  Tensor forward(int64_t taps) const;
  Tensor inv_dt, A_real, A_imag, B, P, C;

 private:
  S4Config cfg_;
};

class S4 : public Mixer {
 public:
  S4(const S4Config& cfg, Generator& gen);

  Tensor forward(const Tensor& x, const Tensor& seq_start = Tensor()) const override;
  std::unique_ptr<MixerState> new_state(int64_t batch) const override;
  Tensor prefill(const Tensor& x, MixerState& state) const override;
  Tensor step(const Tensor& x, MixerState& state) const override;
  double flops_per_token() const override;
  int64_t state_elements() const override;
  std::string summary() const override;

  const S4Config& config() const { return cfg_; }
  // The SSM's output before the activations for a (B, H) input, advancing s.
  Tensor ssm_step(const S4StepParams& p, Tensor& s, const Tensor& u) const;

  std::shared_ptr<S4Kernel> kernel;
  std::shared_ptr<Linear> out;  // output_linear.0
  Tensor D;

 private:
  Tensor head(const Tensor& y) const;  // (..., H) -> GLU(output_linear(GELU(y)))
  std::shared_ptr<const S4StepParams> step_params() const;
  S4Config cfg_;
};

// C̃ = C (I - Ā^L) (to_tilde) or C = C̃ (I - Ā^L)⁻¹ for one channel's DPLR system, over the 2M
// modes with conjugates (host, float64; a dense N x N power and solve). lam, p, c: M complex.
std::vector<std::complex<double>> s4_convert_c(double dt, const std::vector<std::complex<double>>& lam,
                                               const std::vector<std::complex<double>>& p,
                                               const std::vector<std::complex<double>>& c,
                                               int64_t L, bool to_tilde);

MixerInfo s4_mixer_info();

}  // namespace ssm::nn
