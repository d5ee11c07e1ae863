#include "models/mlp_lm.h"

#include "core/error.h"
#include "ops/elementwise.h"

namespace ssm::models {

MlpLM::MlpLM(const MlpLMConfig& cfg, Generator& gen) : cfg_(cfg) {
  embed_ = register_module("embed", std::make_shared<nn::Embedding>(cfg.vocab, cfg.d_embed, gen));
  fc1_ = register_module("fc1", std::make_shared<nn::Linear>(cfg.context * cfg.d_embed,
                                                             cfg.d_hidden, true, gen));
  norm_ = register_module("norm", std::make_shared<nn::LayerNorm>(cfg.d_hidden));
  fc2_ = register_module("fc2", std::make_shared<nn::Linear>(cfg.d_hidden, cfg.vocab, true, gen));
}

Tensor MlpLM::forward(const Tensor& ids) const {
  SSM_CHECK(ids.dim() == 2 && ids.size(1) == cfg_.context, "MlpLM: expects ids of shape (B, ",
            cfg_.context, "), got ", describe(ids));
  Tensor h = embed_->forward(ids).reshape({ids.size(0), cfg_.context * cfg_.d_embed});
  h = gelu(norm_->forward(fc1_->forward(h)));
  return fc2_->forward(h);
}

}  // namespace ssm::models
