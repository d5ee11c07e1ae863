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
#include "nn/linear.h"
#include "nn/module.h"
#include "ops/selective_scan.h"

namespace ssm::nn {

struct MambaBlockConfig {
  int64_t d_model = 64;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t dt_rank = 0;  // 0: ceil(d_model / 16)
  bool use_bias = false;
  bool use_conv_bias = true;
  // Initialisation of Δ's bias: Δ ~ log-uniform[dt_min, dt_max], floored at dt_init_floor.
  double dt_min = 1e-3, dt_max = 0.1, dt_init_floor = 1e-4, dt_scale = 1.0;
  int64_t n_layer = 1;  // out_proj is scaled by 1/sqrt(n_layer) at init
  SelectiveScanOptions scan;
  DType dtype = DType::f32;  // parameter dtype

  int64_t d_inner() const { return expand * d_model; }
  int64_t rank() const { return dt_rank > 0 ? dt_rank : (d_model + 15) / 16; }
};

// Recurrent state for generation: the conv window and the SSM state (O(1) per token).
struct MambaCache {
  Tensor conv_state;  // (B, d_inner, d_conv): the last d_conv inputs of the conv, oldest first
  Tensor ssm_state;   // (B, d_inner, N), float32 (float64 for float64 models)
  Tensor A;           // (d_inner, N) = -exp(A_log), made once per cache: decoding steps reuse it
};

class Mamba : public Module {
 public:
  Mamba(const MambaBlockConfig& cfg, Generator& gen);

  // (B, L, d_model) -> (B, L, d_model). seq_start (B, L), optional: nonzero where a new sequence
  // of a packed row starts; the conv and the scan then let nothing cross the boundaries, so each
  // packed sequence gives what it gives alone (ops/selective_scan.h, ops/causal_conv1d.h).
  Tensor forward(const Tensor& x, const Tensor& seq_start = Tensor()) const;
  MambaCache new_cache(int64_t batch) const;
  Tensor step(const Tensor& x, MambaCache& cache) const;  // (B, d_model) -> (B, d_model)
  // Forward that also leaves `cache` holding the state after the last position (for prompts).
  Tensor forward_with_cache(const Tensor& x, MambaCache& cache) const;

  const MambaBlockConfig& config() const { return cfg_; }

  std::shared_ptr<Linear> in_proj, x_proj, dt_proj, out_proj;
  Tensor conv_weight, conv_bias, A_log, D;

 private:
  Tensor mix(const Tensor& x, MambaCache* cache, const Tensor& seq_start = Tensor()) const;
  MambaBlockConfig cfg_;
};

}  // namespace ssm::nn
