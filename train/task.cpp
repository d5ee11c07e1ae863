#include "train/task.h"

#include "core/autograd.h"
#include "ops/cross_entropy.h"
#include "ops/reduce.h"

namespace ssm::train {

BatchScore& BatchScore::operator+=(const BatchScore& o) {
  loss_sum += o.loss_sum;
  tokens += o.tokens;
  rows += o.rows;
  rows_right += o.rows_right;
  return *this;
}

BatchScore score_batch(const models::Model& model, const models::Batch& b) {
  NoGradGuard ng;
  Device dev = model.device();
  Tensor seq_start = b.seq_start.defined() ? b.seq_start.to(dev) : Tensor();
  Tensor logits = model.forward(b.ids.to(dev), seq_start);
  int64_t B = logits.size(0), L = logits.size(1), V = logits.size(2);
  Tensor losses = cross_entropy(logits.reshape({-1, V}), b.targets.to(dev).reshape({-1}),
                                {.ignore_index = models::kIgnoreIndex, .reduction = Reduction::sum});
  auto pred = argmax(logits, -1).cpu().to_vector<int64_t>();
  auto tgt = b.targets.to_vector<int64_t>();
  BatchScore s;
  s.loss_sum = losses.cpu().item<double>();
  s.rows = B;
  for (int64_t r = 0; r < B; ++r) {
    bool right = true;
    for (int64_t t = 0; t < L; ++t) {
      int64_t y = tgt[size_t(r * L + t)];
      if (y == models::kIgnoreIndex) continue;
      ++s.tokens;
      right = right && pred[size_t(r * L + t)] == y;
    }
    s.rows_right += right;
  }
  return s;
}

}  // namespace ssm::train
