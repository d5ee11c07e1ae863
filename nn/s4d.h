// The S4D layer (Gu, Gupta, Goel & Ré, "On the Parameterization and Initialization of Diagonal
// State Space Models", NeurIPS 2022), as models/s4/s4d.py of state-spaces/s4 writes it:
//   K = Vandermonde kernel of the diagonal SSM (ops/vandermonde.h)
//   y = GLU(conv1x1(dropout(GELU(K * u + D u))))       (GELU exact, GLU over channels:
//                                                        first half * sigmoid(second half))
// Shapes: x (B, L, d_model) -> (B, L, d_model); H = d_model, N = d_state (the full state size),
// M = N / 2 complex modes (one of each conjugate pair: the kernel is 2 Re of their sum).
//
// Parameters (names and shapes of s4d.py; complex values as (real, imaginary) pairs):
//   D (H)                      the skip
//   kernel.log_dt (H)          log of the step Δ, initialised uniformly in [log dt_min, log dt_max]
//   kernel.C (H, M, 2)         C as s4d.py stores it (B is fixed at 1, folded into C); the kernel
//                              uses C B̄. Bidirectional: (2, H, M, 2), the causal kernel's C then
//                              the anti-causal one's (the full S4 repository's channels dim)
//   kernel.log_A_real (H, M)   Re A = -exp(log_A_real)
//   kernel.A_imag (H, M)       Im A
//   output_linear.0.weight (2H, H, 1), output_linear.0.bias (2H): the 1x1 conv before the GLU
// Discretization: zoh (s4d.py's: Ā = e^{Δ A}, B̄ = (e^{Δ A} - 1)/A) or bilinear.
// Recurrent form (decoding): x_k = Ā x_{k-1} + u_k (state (B, H, M) complex), and the kernel's
// output 2 Re(sum_m C B̄ x_k) + D u_k; exact for the causal kernel, refused for a bidirectional
// layer (it reads the future).
#pragma once

#include <memory>

#include "core/rng.h"
#include "core/schema.h"
#include "nn/hippo.h"
#include "nn/mixer.h"
#include "ops/lti_discretization.h"

namespace ssm::nn {

struct S4dConfig {
  int64_t d_model = 64;  // from the architecture
  DType dtype = DType::f32;
  bool causal = true;  // from the architecture (MixerContext::causal)

  int64_t d_state = 64;  // N, the full state size; N/2 complex modes are stored
  S4dInit init = S4dInit::lin;
  LtiDiscretization discretization = LtiDiscretization::zoh;
  double dt_min = 1e-3, dt_max = 0.1;
  bool bidirectional = false;
  double dropout = 0.0;

  int64_t modes() const { return d_state / 2; }
  int64_t channels() const { return bidirectional ? 2 : 1; }

  static const schema::Section<S4dConfig>& section();
  static S4dConfig from(const json& options, const MixerContext& ctx);
};

// Decoding state: the complex SSM state, and Ā, C B̄ made once per state.
struct S4dState final : MixerState {
  Tensor x;   // (B, H, M, 2)
  Tensor Ab;  // (H, M, 2)
  Tensor CB;  // (H, M, 2)
  std::vector<Tensor*> rows() override { return {&x}; }
};

class S4d : public Mixer {
 public:
  S4d(const S4dConfig& cfg, Generator& gen);

  Tensor forward(const Tensor& x, const Tensor& seq_start = Tensor()) const override;
  std::unique_ptr<MixerState> new_state(int64_t batch) const override;
  Tensor prefill(const Tensor& x, MixerState& state) const override;
  Tensor step(const Tensor& x, MixerState& state) const override;  // (B, d_model) -> (B, d_model)
  double flops_per_token() const override;
  int64_t state_elements() const override;
  std::string summary() const override;

  const S4dConfig& config() const { return cfg_; }

  // The convolution kernel (channels, H, L) of the current parameters (differentiable).
  Tensor kernel(int64_t L) const;

  Tensor D, log_dt, C, log_A_real, A_imag, out_weight, out_bias;

 private:
  Tensor C4() const;      // C as (channels, H, M, 2)
  Tensor A() const;       // (H, M, 2)
  Tensor head(const Tensor& y) const;  // (..., H) -> GLU(conv1x1(y)) (..., H)
  S4dConfig cfg_;
};

MixerInfo s4d_mixer_info();

}  // namespace ssm::nn
