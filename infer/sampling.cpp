// Sampling: the logits processors of the header, applied to one float64 row at a time, and the
// generation loop that feeds each row its prompt and then its own samples.
#include "infer/sampling.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "core/rng.h"

namespace ssm::infer {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity(), kNegInf = -kInf;

// Lowest id among the largest scores.
int64_t argmax_row(std::span<const double> s) {
  size_t best = 0;
  for (size_t i = 1; i < s.size(); ++i)
    if (s[i] > s[best]) best = i;
  return int64_t(best);
}

void apply_repetition_penalty(std::vector<double>& s, const std::vector<char>& seen,
                              double penalty) {
  if (penalty == 1.0) return;
  for (size_t i = 0; i < s.size(); ++i)
    if (seen[i]) s[i] = s[i] < 0 ? s[i] * penalty : s[i] / penalty;
}

void apply_top_k(std::vector<double>& s, int64_t k) {
  if (k <= 0 || k >= int64_t(s.size())) return;
  std::vector<double> sorted = s;
  std::nth_element(sorted.begin(), sorted.begin() + (k - 1), sorted.end(), std::greater<>());
  double kth = sorted[size_t(k - 1)];
  for (double& v : s)
    if (v < kth) v = kNegInf;
}

void apply_top_p(std::vector<double>& s, double p) {
  if (p >= 1.0) return;
  std::vector<int64_t> order;
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] > kNegInf) order.push_back(int64_t(i));
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    return s[size_t(a)] != s[size_t(b)] ? s[size_t(a)] > s[size_t(b)] : a < b;
  });
  double top = s[size_t(order[0])], total = 0;
  for (int64_t i : order) total += std::exp(s[size_t(i)] - top);
  double before = 0;  // probability mass of the tokens ranked above
  for (int64_t i : order) {
    double prob = std::exp(s[size_t(i)] - top) / total;
    if (before >= p) s[size_t(i)] = kNegInf;
    before += prob;
  }
}

// Steps 1-5 of the header for one row: penalized, tempered, filtered, softmaxed. `s` is consumed.
std::vector<double> probs_from(std::vector<double> s, const std::vector<char>& seen,
                               const SamplingOptions& o) {
  apply_repetition_penalty(s, seen, o.repetition_penalty);
  if (o.temperature == 0.0) {
    std::vector<double> one_hot(s.size(), 0.0);
    one_hot[size_t(argmax_row(s))] = 1.0;
    return one_hot;
  }
  // (s - max) / T rather than s / T: the same distribution, and no overflow for a tiny T.
  double top = *std::max_element(s.begin(), s.end());
  for (double& v : s) v = (v - top) / o.temperature;
  apply_top_k(s, o.top_k);
  apply_top_p(s, o.top_p);
  top = *std::max_element(s.begin(), s.end());
  double total = 0;
  for (double& v : s) {
    v = std::exp(v - top);  // exp(-inf) = 0 for excluded tokens
    total += v;
  }
  for (double& v : s) v /= total;
  return s;
}

std::vector<char> seen_mask(std::span<const int64_t> tokens, size_t vocab) {
  std::vector<char> seen(vocab, 0);
  for (int64_t t : tokens) {
    SSM_CHECK(t >= 0 && size_t(t) < vocab, "sampling: token id ", t,
              " is outside the vocabulary [0, ", vocab, ")");
    seen[size_t(t)] = 1;
  }
  return seen;
}

}  // namespace

void SamplingOptions::validate(int64_t vocab) const {
  SSM_CHECK(std::isfinite(temperature) && temperature >= 0,
            "sampling option temperature must be >= 0 (0 = greedy), got ", temperature);
  SSM_CHECK(top_k >= 0, "sampling option top_k must be >= 0 (0 = off), got ", top_k);
  SSM_CHECK(top_p > 0 && top_p <= 1, "sampling option top_p must be in (0, 1] (1 = off), got ",
            top_p);
  SSM_CHECK(std::isfinite(repetition_penalty) && repetition_penalty > 0,
            "sampling option repetition_penalty must be > 0 (1 = off), got ", repetition_penalty);
  SSM_CHECK(max_new_tokens >= 0, "sampling option max_new_tokens must be >= 0, got ",
            max_new_tokens);
  if (vocab > 0)
    for (int64_t t : stop_tokens)
      SSM_CHECK(t >= 0 && t < vocab, "sampling option stop_tokens: token ", t,
                " is outside the vocabulary [0, ", vocab, ")");
}

void check_logits(std::span<const double> s, const char* where) {
  bool any = false;
  for (size_t i = 0; i < s.size(); ++i) {
    SSM_CHECK(!std::isnan(s[i]) && s[i] != kInf, where, ": the model gave the logit ", s[i],
              " for token ", i, " (expected a number or -inf)");
    any = any || s[i] > kNegInf;
  }
  SSM_CHECK(any, where, ": the model gave -inf logits for every token");
}

std::vector<std::vector<int64_t>> token_rows(const Tensor& ids, const char* where) {
  SSM_CHECK(ids.defined() && ids.dim() == 2 && is_index(ids.dtype()), where,
            ": prompts must be an integer tensor (B, L), got ",
            ids.defined() ? describe(ids) : std::string("an undefined tensor"));
  const int64_t B = ids.size(0), L = ids.size(1);
  std::vector<int64_t> flat = ids.to_vector<int64_t>();
  std::vector<std::vector<int64_t>> rows;
  for (int64_t b = 0; b < B; ++b)
    rows.emplace_back(flat.begin() + b * L, flat.begin() + (b + 1) * L);
  return rows;
}

double sampling_uniform(uint64_t seed, int64_t row, int64_t n) {
  Philox r = philox4x32_10(seed, (uint64_t(row) << 32) + uint64_t(n));
  return uniform_f64(r.w[0], r.w[1]);
}

int64_t sample_index(std::span<const double> probs, double u) {
  SSM_CHECK(!probs.empty(), "sample_index: empty distribution");
  double total = std::accumulate(probs.begin(), probs.end(), 0.0);
  SSM_CHECK(total > 0, "sample_index: the probabilities sum to ", total);
  double target = u * total, cum = 0;
  size_t last = 0;
  for (size_t i = 0; i < probs.size(); ++i) {
    if (probs[i] <= 0) continue;
    cum += probs[i];
    last = i;
    if (cum > target) return int64_t(i);
  }
  return int64_t(last);  // rounding left cum a hair below target
}

std::vector<double> next_token_probs(std::span<const double> logits,
                                     std::span<const int64_t> previous,
                                     const SamplingOptions& options) {
  options.validate();
  SSM_CHECK(!logits.empty(), "next_token_probs: empty logits");
  check_logits(logits, "next_token_probs");
  return probs_from(std::vector<double>(logits.begin(), logits.end()),
                    seen_mask(previous, logits.size()), options);
}

std::vector<std::vector<int64_t>> generate(Decoder& decoder,
                                           const std::vector<std::vector<int64_t>>& prompts,
                                           const SamplingOptions& options,
                                           const TokenCallback& on_token) {
  const int64_t V = decoder.vocab();
  options.validate(V);
  const int64_t B = int64_t(prompts.size());
  SSM_CHECK(B > 0, "generate: no prompts");
  size_t min_len = prompts[0].size();
  for (int64_t b = 0; b < B; ++b) {
    SSM_CHECK(!prompts[size_t(b)].empty(), "generate: prompt ", b,
              " is empty; start it with at least one token (e.g. BOS)");
    min_len = std::min(min_len, prompts[size_t(b)].size());
  }
  std::vector<std::vector<char>> seen;  // (B, V): tokens in prompt + output
  for (const auto& p : prompts) seen.push_back(seen_mask(p, size_t(V)));
  std::vector<std::vector<int64_t>> out(static_cast<size_t>(B));
  if (options.max_new_tokens == 0) return out;

  std::vector<int64_t> prefix;  // (B, min_len)
  for (const auto& p : prompts) prefix.insert(prefix.end(), p.begin(), p.begin() + min_len);
  Tensor logits = decoder.prefill(Tensor::from_vector(prefix, {B, int64_t(min_len)}));
  std::vector<int64_t> rows(static_cast<size_t>(B));  // decoder row i holds prompt rows[i]
  std::iota(rows.begin(), rows.end(), 0);
  std::vector<size_t> fed(size_t(B), min_len);  // prompt tokens each row has read
  auto is_stop = [&](int64_t t) {
    return std::find(options.stop_tokens.begin(), options.stop_tokens.end(), t) !=
           options.stop_tokens.end();
  };

  for (;;) {
    const int64_t n = int64_t(rows.size());
    SSM_CHECK(logits.dim() == 2 && logits.size(0) == n && logits.size(1) == V,
              "generate: the decoder returned logits ", describe(logits), ", expected (", n, ", ",
              V, ")");
    std::vector<double> all = logits.to_vector<double>();  // (n, V)
    std::vector<int64_t> next, keep;  // next input and decoder row of the rows that go on
    for (int64_t i = 0; i < n; ++i) {
      size_t b = size_t(rows[size_t(i)]);
      if (fed[b] < prompts[b].size()) {  // still reading its prompt: these logits are not used
        next.push_back(prompts[b][fed[b]++]);
        keep.push_back(i);
        continue;
      }
      std::span<const double> row(all.data() + i * V, size_t(V));
      check_logits(row, "generate");
      double u = sampling_uniform(options.seed, int64_t(b), int64_t(out[b].size()));
      int64_t token = sample_index(
          probs_from(std::vector<double>(row.begin(), row.end()), seen[b], options), u);
      out[b].push_back(token);
      seen[b][size_t(token)] = 1;
      if (on_token) on_token(int64_t(b), token);
      if (!is_stop(token) && int64_t(out[b].size()) < options.max_new_tokens) {
        next.push_back(token);
        keep.push_back(i);
      }
    }
    if (keep.empty()) break;
    if (int64_t(keep.size()) < n) {  // drop finished rows from the decoder's state
      decoder.reorder(Tensor::from_vector(keep, {int64_t(keep.size())}));
      std::vector<int64_t> kept_rows;
      for (int64_t i : keep) kept_rows.push_back(rows[size_t(i)]);
      rows = std::move(kept_rows);
    }
    logits = decoder.step(Tensor::from_vector(next, {int64_t(next.size())}));
  }
  return out;
}

std::vector<std::vector<int64_t>> generate(Decoder& decoder, const Tensor& prompts,
                                           const SamplingOptions& options,
                                           const TokenCallback& on_token) {
  return generate(decoder, token_rows(prompts, "generate"), options, on_token);
}

}  // namespace ssm::infer
