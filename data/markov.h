// A synthetic token source with a known answer: an order-k Markov chain over V symbols whose
// next-symbol distributions are drawn from a seed. A model that learns the chain reaches a
// cross-entropy equal to the chain's entropy rate, which is computed exactly, so training
// progress can be read against a real floor. Used by `ssm demo`.
#pragma once

#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"

namespace ssm::data {

class MarkovSource {
 public:
  // `sharpness` scales the log-probabilities: higher gives more predictable chains.
  MarkovSource(int vocab, int order, uint64_t seed, double sharpness = 2.0);

  int vocab() const { return vocab_; }
  int order() const { return order_; }

  // A batch of (context, next) pairs from the stationary chain:
  // context: (batch, order) int64, next: (batch,) int64.
  void sample(int64_t batch, Generator& gen, Tensor& context, Tensor& next);

  // Entropy rate in nats: the expected entropy of the next symbol under the stationary
  // distribution of contexts (computed by power iteration on the context chain).
  double entropy_rate() const;

 private:
  // Moves every stream one symbol on; records each stream's context and symbol when asked.
  void advance(Generator& gen, int64_t* ctx, int64_t* next);

  int vocab_, order_;
  int64_t n_contexts_;
  std::vector<double> probs_;  // (n_contexts, vocab), rows sum to 1
  std::vector<double> cdf_;    // row-wise cumulative sums
  std::vector<int64_t> state_; // current context of each sampling stream
};

}  // namespace ssm::data
