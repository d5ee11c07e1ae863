// ToyDecoder: a Decoder whose next-token logits are any function of the tokens a row has read,
// so tests can hand-build Markov chains and history-dependent models whose outputs are known.
// It records the batch size of every call, to check that finished rows are dropped.
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "core/error.h"
#include "infer/decoder.h"

namespace ssm::infer::testing {

using LogitsFn = std::function<std::vector<double>(const std::vector<int64_t>& history)>;

class ToyDecoder final : public Decoder {
 public:
  ToyDecoder(int64_t vocab, LogitsFn fn) : vocab_(vocab), fn_(std::move(fn)) {}

  Tensor prefill(const Tensor& ids) override {
    SSM_CHECK(ids.dim() == 2 && ids.size(1) >= 1, "ToyDecoder::prefill: bad ids");
    const int64_t B = ids.size(0), L = ids.size(1);
    auto flat = ids.to_vector<int64_t>();
    histories_.clear();
    for (int64_t b = 0; b < B; ++b)
      histories_.emplace_back(flat.begin() + b * L, flat.begin() + (b + 1) * L);
    ++prefills;
    batch_sizes.push_back(B);
    return logits();
  }
  Tensor step(const Tensor& ids) override {
    SSM_CHECK(ids.dim() == 1 && ids.size(0) == int64_t(histories_.size()), "ToyDecoder::step: got ",
              describe(ids), " for ", histories_.size(), " rows");
    auto v = ids.to_vector<int64_t>();
    for (size_t b = 0; b < v.size(); ++b) histories_[b].push_back(v[b]);
    batch_sizes.push_back(int64_t(v.size()));
    return logits();
  }
  void reorder(const Tensor& rows) override {
    std::vector<std::vector<int64_t>> next;
    for (int64_t r : rows.to_vector<int64_t>()) next.push_back(histories_.at(size_t(r)));
    histories_ = std::move(next);
  }
  int64_t vocab() const override { return vocab_; }

  const std::vector<std::vector<int64_t>>& histories() const { return histories_; }
  int prefills = 0;
  std::vector<int64_t> batch_sizes;  // rows at each prefill / step call

 private:
  Tensor logits() const {
    std::vector<double> out;
    for (const auto& h : histories_) {
      auto row = fn_(h);
      SSM_CHECK(int64_t(row.size()) == vocab_, "ToyDecoder: logits function gave ", row.size());
      out.insert(out.end(), row.begin(), row.end());
    }
    return Tensor::from_vector(out, {int64_t(histories_.size()), vocab_});
  }

  int64_t vocab_;
  LogitsFn fn_;
  std::vector<std::vector<int64_t>> histories_;
};

// Logits = log of a next-token probability table indexed by the last token (0 -> -inf).
inline LogitsFn markov(std::vector<std::vector<double>> probs) {
  return [probs = std::move(probs)](const std::vector<int64_t>& h) {
    std::vector<double> out;
    for (double p : probs.at(size_t(h.back())))
      out.push_back(p > 0 ? std::log(p) : -std::numeric_limits<double>::infinity());
    return out;
  };
}

// The same logits whatever came before.
inline LogitsFn constant(std::vector<double> logits) {
  return [logits = std::move(logits)](const std::vector<int64_t>&) { return logits; };
}

}  // namespace ssm::infer::testing
