// The Mamba block (Gu & Dao, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
// 2023), laid out like the reference implementation and Hugging Face's MambaMixer:
//   in_proj (no bias) -> split x, z -> depthwise causal conv1d (width d_conv, bias) -> SiLU
//   -> x_proj -> (Δ (dt_rank), B (N), C (N)) -> dt_proj (bias: the scan's Δ bias) -> softplus
//   -> selective scan with A = -exp(A_log) and the D skip, gated by SiLU(z) -> out_proj
// Shapes: x (B, L, d_model) -> (B, L, d_model); d_inner = expand * d_model.
// Parameter names and shapes are Hugging Face's: in_proj.weight (2 d_inner, d_model),
// conv1d.weight (d_inner, 1, d_conv), conv1d.bias (d_inner), x_proj.weight (R + 2N, d_inner),
// dt_proj.weight (d_inner, R), dt_proj.bias (d_inner), A_log (d_inner, N), D (d_inner),
// out_proj.weight (d_model, d_inner).
#pragma once

#include <memory>

#include "core/rng.h"
#include "core/schema.h"
#include "nn/linear.h"
#include "nn/mixer.h"
#include "ops/scan_options.h"

namespace ssm::nn {

// The mixer's settings: the model.* keys of a Mamba (config section in nn/mamba.cpp), plus what
// the architecture gives it (d_model, n_layer, dtype).
struct MambaConfig {
  int64_t d_model = 768;  // from the architecture
  int64_t n_layer = 1;    // from the architecture: out_proj is scaled by 1/sqrt(n_layer) at init
  DType dtype = DType::f32;

  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t d_inner = 0;  // 0 (auto): expand * d_model, the only value allowed
  int64_t dt_rank = 0;  // 0 (auto): ceil(d_model / 16)
  Discretization discretization = Discretization::zoh;
  double alpha = 0.5;  // generalized_bilinear only
  ScanAlgorithm scan = ScanAlgorithm::sequential;
  int64_t scan_chunk = 64;
  // Initialisation of Δ's bias: Δ ~ log-uniform[dt_min, dt_max], floored at dt_init_floor.
  double dt_min = 1e-3, dt_max = 0.1, dt_init_floor = 1e-4, dt_scale = 1.0;
  bool use_bias = false;
  bool use_conv_bias = true;

  int64_t inner() const { return expand * d_model; }
  int64_t rank() const { return dt_rank > 0 ? dt_rank : (d_model + 15) / 16; }
  SelectiveScanOptions scan_options() const;

  static const schema::Section<MambaConfig>& section();
  // The settings in `options` (the model section's values) for `ctx`.
  static MambaConfig from(const json& options, const MixerContext& ctx);
};

// Recurrent state for generation: the conv window and the SSM state (O(1) per token).
struct MambaState final : MixerState {
  Tensor conv_state;  // (B, d_inner, d_conv): the last d_conv inputs of the conv, oldest first
  Tensor ssm_state;   // (B, d_inner, N), float32 (float64 for float64 models)
  Tensor A;           // (d_inner, N) = -exp(A_log), made once per state: decoding steps reuse it
  std::vector<Tensor*> rows() override { return {&conv_state, &ssm_state}; }
};

class Mamba : public Mixer {
 public:
  Mamba(const MambaConfig& cfg, Generator& gen);

  Tensor forward(const Tensor& x, const Tensor& seq_start = Tensor()) const override;
  std::unique_ptr<MixerState> new_state(int64_t batch) const override;
  Tensor prefill(const Tensor& x, MixerState& state) const override;
  Tensor step(const Tensor& x, MixerState& state) const override;  // (B, d_model) -> (B, d_model)
  double flops_per_token() const override;
  int64_t state_elements() const override;
  std::string summary() const override;

  const MambaConfig& config() const { return cfg_; }

  std::shared_ptr<Linear> in_proj, x_proj, dt_proj, out_proj;
  Tensor conv_weight, conv_bias, A_log, D;

 private:
  Tensor mix(const Tensor& x, MambaState* state, const Tensor& seq_start = Tensor()) const;
  MambaConfig cfg_;
};

// Its entry in the mixer registry (nn/mixers.cpp).
MixerInfo mamba_mixer_info();

}  // namespace ssm::nn
