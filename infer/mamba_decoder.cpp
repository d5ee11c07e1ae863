#include "infer/mamba_decoder.h"

#include "core/error.h"
#include "ops/index.h"

namespace ssm::infer {

Tensor MambaDecoder::prefill(const Tensor& ids) {
  Tensor logits = model_.prefill(ids.to(model_.lm_head_weight().device()), cache_);
  ready_ = true;
  return logits;
}

Tensor MambaDecoder::step(const Tensor& ids) {
  SSM_CHECK(ready_, "MambaDecoder::step: call prefill first");
  return model_.step(ids.to(model_.lm_head_weight().device()), cache_);
}

void MambaDecoder::reorder(const Tensor& rows) {
  SSM_CHECK(ready_, "MambaDecoder::reorder: call prefill first");
  SSM_CHECK(rows.dim() == 1, "MambaDecoder::reorder: rows must be 1-D, got ", describe(rows));
  for (nn::MambaCache& layer : cache_.layers) {
    Tensor r = rows.to(layer.conv_state.device());
    layer.conv_state = index_select(layer.conv_state, 0, r);
    layer.ssm_state = index_select(layer.ssm_state, 0, r);
  }
}

}  // namespace ssm::infer
