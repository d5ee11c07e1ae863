// The residual stack every architecture here builds around its mixers (the LM and the
// classifier): n_layer x (RMSNorm -> mixer, with a residual add), then a final RMSNorm.
// Parameters: layers.{i}.norm.weight, layers.{i}.mixer.*, norm_f.weight under the owner's prefix.
#pragma once

#include <memory>

#include "core/rng.h"
#include "models/model.h"
#include "nn/mixer.h"
#include "nn/module_list.h"
#include "nn/norm.h"

namespace ssm::models {

class ResidualBlock : public nn::Module {
 public:
  ResidualBlock(int64_t d_model, double eps, const ModelConfig& mc, const nn::MixerContext& ctx, Generator& gen);
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Mixer> mixer;
};

// `layers` over the embedded input h (B, L, d_model), then `norm_f`: as in mamba_ssm each residual
// add is fused with the next norm (add_rms_norm, ops/norm.h), and with residual_in_fp32 the
// residual stream is float32 whatever the activations' dtype. With `checkpointing` (and grad on)
// each block recomputes its activations in backward. dropout_p > 0 drops each mixer's output
// before its residual add, outside the checkpointed block so that a recomputation sees the same
// mask.
Tensor run_residual_blocks(const nn::ModuleList<ResidualBlock>& layers, const nn::RMSNorm& norm_f,
                           const Tensor& h, const Tensor& seq_start, bool residual_in_fp32,
                           bool checkpointing, double dropout_p = 0.0);

}  // namespace ssm::models
