#include "data/markov.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace ssm::data {

MarkovSource::MarkovSource(int vocab, int order, uint64_t seed, double sharpness)
    : vocab_(vocab), order_(order) {
  SSM_CHECK(vocab >= 2 && vocab <= 4096, "MarkovSource: vocab must be in [2, 4096], got ", vocab);
  SSM_CHECK(order >= 1 && order <= 4, "MarkovSource: order must be in [1, 4], got ", order);
  n_contexts_ = 1;
  for (int i = 0; i < order; ++i) n_contexts_ *= vocab;
  SSM_CHECK(n_contexts_ * vocab <= (int64_t(1) << 26), "MarkovSource: vocab^(order+1) = ",
            n_contexts_ * vocab, " is too large");
  Generator gen(seed);
  auto logits = Tensor::randn({n_contexts_, vocab}, DType::f64, &gen).to_vector<double>();
  probs_.resize(logits.size());
  cdf_.resize(logits.size());
  for (int64_t c = 0; c < n_contexts_; ++c) {
    double* p = &probs_[size_t(c * vocab)];
    const double* l = &logits[size_t(c * vocab)];
    double mx = *std::max_element(l, l + vocab), z = 0;
    for (int v = 0; v < vocab; ++v) z += p[v] = std::exp(sharpness * (l[v] - mx));
    double acc = 0;
    for (int v = 0; v < vocab; ++v) {
      p[v] /= z;
      acc += p[v];
      cdf_[size_t(c * vocab + v)] = acc;
    }
  }
}

void MarkovSource::advance(Generator& gen, int64_t* ctx, int64_t* next) {
  int64_t batch = int64_t(state_.size());
  auto u = Tensor::rand({batch}, DType::f64, &gen).to_vector<double>();
  for (int64_t b = 0; b < batch; ++b) {
    int64_t s = state_[size_t(b)];
    if (ctx)
      for (int i = order_ - 1, t = int(s); i >= 0; --i, t /= vocab_) ctx[b * order_ + i] = t % vocab_;
    const double* row = &cdf_[size_t(s * vocab_)];
    int64_t v = std::min<int64_t>(std::upper_bound(row, row + vocab_, u[size_t(b)]) - row, vocab_ - 1);
    if (next) next[b] = v;
    state_[size_t(b)] = (s * vocab_ + v) % n_contexts_;
  }
}

void MarkovSource::sample(int64_t batch, Generator& gen, Tensor& context, Tensor& next) {
  SSM_CHECK(batch > 0, "MarkovSource::sample: batch must be > 0");
  if (int64_t(state_.size()) != batch) {
    // Independent streams, burned in so contexts follow the stationary distribution.
    auto start = Tensor::randint({batch}, 0, n_contexts_, DType::i64, &gen).to_vector<int64_t>();
    state_.assign(start.begin(), start.end());
    for (int burn = 0; burn < 64; ++burn) advance(gen, nullptr, nullptr);
  }
  context = Tensor::empty({batch, order_}, DType::i64);
  next = Tensor::empty({batch}, DType::i64);
  advance(gen, context.data<int64_t>(), next.data<int64_t>());
}

double MarkovSource::entropy_rate() const {
  // Stationary distribution over contexts by power iteration.
  std::vector<double> pi(size_t(n_contexts_), 1.0 / double(n_contexts_)), nxt(pi.size());
  for (int it = 0; it < 500; ++it) {
    std::fill(nxt.begin(), nxt.end(), 0.0);
    for (int64_t c = 0; c < n_contexts_; ++c)
      for (int v = 0; v < vocab_; ++v)
        nxt[size_t((c * vocab_ + v) % n_contexts_)] += pi[size_t(c)] * probs_[size_t(c * vocab_ + v)];
    double diff = 0;
    for (size_t i = 0; i < pi.size(); ++i) diff += std::fabs(nxt[i] - pi[i]);
    pi.swap(nxt);
    if (diff < 1e-12) break;
  }
  double h = 0;
  for (int64_t c = 0; c < n_contexts_; ++c)
    for (int v = 0; v < vocab_; ++v) {
      double p = probs_[size_t(c * vocab_ + v)];
      if (p > 0) h -= pi[size_t(c)] * p * std::log(p);
    }
  return h;
}

}  // namespace ssm::data
