#include "models/model.h"

#include "ops/cross_entropy.h"

namespace ssm::models {

Tensor Model::loss(const Batch& batch) const {
  Device dev = device();  // batches are made on the CPU
  Tensor seq_start = batch.seq_start.defined() ? batch.seq_start.to(dev) : Tensor();
  Tensor logits = forward(batch.ids.to(dev), seq_start);
  int64_t V = logits.size(2);
  return cross_entropy(logits.reshape({-1, V}), batch.targets.to(dev).reshape({-1}),
                       {.ignore_index = kIgnoreIndex});
}

}  // namespace ssm::models
