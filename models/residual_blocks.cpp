#include "models/residual_blocks.h"

#include <vector>

#include "core/autograd.h"
#include "ops/dropout.h"
#include "ops/norm.h"

namespace ssm::models {

ResidualBlock::ResidualBlock(int64_t d_model, double eps, const ModelConfig& mc, const nn::MixerContext& ctx,
                             Generator& gen) {
  norm = register_module("norm", std::make_shared<nn::RMSNorm>(d_model, eps, mc.dtype));
  mixer = register_module("mixer", nn::mixer_info(mc.mixer).create(mc.options, ctx, gen));
}

Tensor run_residual_blocks(const nn::ModuleList<ResidualBlock>& layers, const nn::RMSNorm& norm_f,
                           const Tensor& input, const Tensor& seq_start, bool residual_in_fp32,
                           bool checkpointing, double dropout_p) {
  // The stream is carried as (h, residual): h is the last mixer's output, not yet added, and
  // residual the sum of the input and the earlier mixers' outputs (undefined before layer 0).
  Tensor h = input, residual;
  for (const auto& layer : layers) {
    auto block = [layer, seq_start, residual_in_fp32](const std::vector<Tensor>& in) {
      auto [y, r] = add_rms_norm(in[0], in.size() > 1 ? in[1] : Tensor(), layer->norm->weight,
                                 layer->norm->eps, residual_in_fp32);
      return std::vector<Tensor>{layer->mixer->forward(y, seq_start), r};
    };
    std::vector<Tensor> in{h};
    if (residual.defined()) in.push_back(residual);
    std::vector<Tensor> out = checkpointing && grad_enabled() ? checkpoint(block, in) : block(in);
    h = dropout_p > 0 ? dropout(out[0], dropout_p) : out[0];
    residual = out[1];
  }
  return add_rms_norm(h, residual, norm_f.weight, norm_f.eps, residual_in_fp32).first;
}

}  // namespace ssm::models
