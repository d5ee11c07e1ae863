// The S5 layer (Smith, Warrington & Linderman, "Simplified State Space Layers for Sequence
// Modeling", ICLR 2023) as lindermanlab/S5 builds it: s5/ssm.py's S5SSM followed by the half_glu1
// activation of s5/layers.py (its norm and residual are the architecture's).
//
// Dims: B = batch, L = time, H = d_model, N = d_state (the full state size), M = the complex
// modes stored: N/2 with conjugate symmetry (each mode stands for itself and its conjugate), N
// without. Complex values are real pairs in a trailing dim of 2.
//
//   Λ = Lambda_re + i Lambda_im (Lambda_re clipped to <= -1e-4 with clip_eigs), Δ = exp(log_step)
//   zoh:      Λ̄ = exp(ΛΔ),                       B̄ = (Λ̄ - 1)/Λ · B̃
//   bilinear: Λ̄ = (1 + ΔΛ/2)/(1 - ΔΛ/2),         B̄ = Δ/(1 - ΔΛ/2) · B̃
//   x_k = Λ̄ x_{k-1} + B̄ u_k                       (ops/diag_scan.h; x: (B, L, M))
//   y_k = s · Re(C̃ x_k) + D u_k,  s = 2 with conjugate symmetry, else 1
//   g = GELU_tanh(y),  out = g · sigmoid(out2(g))  (half_glu1; dropout after GELU and at the end)
// Bidirectional (not in causal models): a second scan from the end over the same Λ̄, B̄u; the
// states are concatenated ([forward, reverse], 2M modes) and read out by C̃ = [C1, C2], as S5 does
// with its default C initialisation.
//
// Parameters (S5's names, B̃ and C̃ stored as they are used: B̃ = V⁻¹B, C̃ = CV):
//   Lambda_re (M), Lambda_im (M), B (M, H, 2), C (H, M, 2) (bidirectional: C1, C2, each
//   (H, M, 2), and no C), D (H), log_step (M, 1), out2.weight (H, H), out2.bias (H).
// Initialisation (s5/ssm_init.py, s5/train.py): Λ and V from nn/hippo.h's s5_init (HiPPO-N,
// J blocks of N/J); B ~ lecun_normal (N, H) then V⁻¹B; C ~ lecun_normal (H, N) complex then CV
// (S5's default "trunc_standard_normal"); D ~ N(0, 1); log_step ~ U[log dt_min, log dt_max];
// out2 as Flax's Dense (lecun_normal weight, zero bias).
#pragma once

#include <memory>

#include "core/rng.h"
#include "core/schema.h"
#include "nn/linear.h"
#include "nn/mixer.h"
#include "ops/lti_discretization.h"

namespace ssm::nn {

struct S5Config {
  int64_t d_model = 768;  // from the architecture
  DType dtype = DType::f32;

  int64_t d_state = 64;  // N, the full state size
  bool conj_sym = true;
  int64_t blocks = 1;  // J
  LtiDiscretization discretization = LtiDiscretization::zoh;
  double dt_min = 1e-3, dt_max = 0.1;
  bool clip_eigs = false;
  bool bidirectional = false;
  double dropout = 0.0;

  int64_t modes() const { return conj_sym ? d_state / 2 : d_state; }  // M

  static const schema::Section<S5Config>& section();
  static S5Config from(const json& options, const MixerContext& ctx);
};

// Decoding state: the complex state and what the step reuses (made once per state).
struct S5State final : MixerState {
  Tensor x;        // (B, M, 2)
  Tensor lambda;   // (M, 2) Λ̄
  Tensor w_in;     // (2M, H): B̄ as a real product, see S5::input_weight
  Tensor w_out;    // (H, 2M): s C̃ as a real product
  std::vector<Tensor*> rows() override { return {&x}; }
};

class S5 : public Mixer {
 public:
  S5(const S5Config& cfg, Generator& gen);

  Tensor forward(const Tensor& x, const Tensor& seq_start = Tensor()) const override;
  std::unique_ptr<MixerState> new_state(int64_t batch) const override;
  Tensor prefill(const Tensor& x, MixerState& state) const override;
  Tensor step(const Tensor& x, MixerState& state) const override;
  double flops_per_token() const override;
  int64_t state_elements() const override;
  std::string summary() const override;

  const S5Config& config() const { return cfg_; }

  // Λ̄ (M, 2) and B̄ (M, H, 2), differentiable in Lambda_re, Lambda_im, log_step and B.
  void discretize(Tensor& lambda_bar, Tensor& b_bar) const;
  // B̄ as the weight of a real product: (2M, H), row 2m + c the part c of mode m; u W^T is then
  // B̄u as (..., M, 2) pairs.
  static Tensor input_weight(const Tensor& b_bar);
  // s C̃ as the weight of a real product: (H, 2M') (M' = 2M bidirectional), so that x W^T is
  // s Re(C̃ x) for x as (..., M', 2) pairs.
  Tensor output_weight() const;

  std::shared_ptr<Linear> out2;
  Tensor Lambda_re, Lambda_im, B, C, C1, C2, D, log_step;

 private:
  Tensor activation(const Tensor& y) const;  // half_glu1
  Tensor mix(const Tensor& x, S5State* state, const Tensor& seq_start) const;
  S5Config cfg_;
};

MixerInfo s5_mixer_info();

}  // namespace ssm::nn
