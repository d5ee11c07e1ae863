// Beam search as Hugging Face's BeamSearchScorer runs it (see the header), with one beam per
// prompt at the start instead of K copies held at -1e9, and finished prompts dropped from the
// decoder's state instead of padded.
#include "infer/beam_search.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "core/error.h"
#include "infer/sampling.h"

namespace ssm::infer {

namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

struct Beam {
  std::vector<int64_t> tokens;  // new tokens so far
  double logprob = 0;
};

struct Candidate {
  double score;  // the beam's logprob + log p(token)
  int64_t token;
  int64_t beam;  // index into the prompt's live beams
};

// The ranking: higher score first, then lower token id, then lower beam index.
bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.score != b.score) return a.score > b.score;
  if (a.token != b.token) return a.token < b.token;
  return a.beam < b.beam;
}

struct PromptState {
  std::vector<Beam> beams;        // live beams, in decoder-row order
  std::vector<Hypothesis> ended;  // the K best ended hypotheses (HF BeamHypotheses)
  size_t fed = 0;                 // prompt tokens read
  bool done = false;
};

// HF BeamHypotheses.add: kept when fewer than K are held or when it beats the worst, which then
// goes (the earliest of equal worst ones).
void add_hypothesis(std::vector<Hypothesis>& ended, Beam beam, double alpha, size_t K) {
  Hypothesis h{std::move(beam.tokens), beam.logprob, 0.0};
  h.score = h.logprob / std::pow(double(h.tokens.size()), alpha);
  if (ended.size() < K) {
    ended.push_back(std::move(h));
    return;
  }
  auto worst = std::min_element(ended.begin(), ended.end(),
                                [](const auto& a, const auto& b) { return a.score < b.score; });
  if (h.score > worst->score) {
    ended.erase(worst);
    ended.push_back(std::move(h));
  }
}

double worst_score(const std::vector<Hypothesis>& ended) {
  double w = std::numeric_limits<double>::infinity();
  for (const auto& h : ended) w = std::min(w, h.score);
  return w;
}

// The top `count` candidates of one beam, from its logits row (V).
void beam_candidates(std::span<const double> logits, const Beam& beam, int64_t j, size_t count,
                     std::vector<Candidate>& out) {
  double top = *std::max_element(logits.begin(), logits.end()), sum = 0;
  for (double v : logits) sum += std::exp(v - top);
  double lse = top + std::log(sum);
  std::vector<Candidate> all;
  for (size_t v = 0; v < logits.size(); ++v)
    if (logits[v] > kNegInf) all.push_back({beam.logprob + (logits[v] - lse), int64_t(v), j});
  count = std::min(count, all.size());
  std::partial_sort(all.begin(), all.begin() + count, all.end(), ranks_before);
  out.insert(out.end(), all.begin(), all.begin() + count);
}

}  // namespace

void BeamSearchOptions::validate(int64_t vocab) const {
  SSM_CHECK(beam_size >= 1, "beam search option beam_size must be >= 1, got ", beam_size);
  SSM_CHECK(max_new_tokens >= 1, "beam search option max_new_tokens must be >= 1, got ",
            max_new_tokens);
  SSM_CHECK(eos >= -1 && (vocab <= 0 || eos < vocab),
            "beam search option eos must be -1 (none) or ", "a token id",
            vocab > 0 ? " in [0, " + std::to_string(vocab) + ")" : std::string(), ", got ", eos);
  SSM_CHECK(std::isfinite(length_penalty), "beam search option length_penalty must be finite, got ",
            length_penalty);
  SSM_CHECK(n_best >= 1 && n_best <= beam_size,
            "beam search option n_best must be in [1, beam_size = ", beam_size, "], got ", n_best);
}

std::vector<std::vector<Hypothesis>> beam_search(Decoder& decoder,
                                                 const std::vector<std::vector<int64_t>>& prompts,
                                                 const BeamSearchOptions& options) {
  const int64_t V = decoder.vocab();
  options.validate(V);
  const int64_t B = int64_t(prompts.size());
  const size_t K = size_t(options.beam_size);
  const double alpha = options.length_penalty;
  SSM_CHECK(B > 0, "beam_search: no prompts");
  size_t min_len = prompts[0].size();
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[size_t(b)];
    SSM_CHECK(!p.empty(), "beam_search: prompt ", b,
              " is empty; start it with at least one token (e.g. BOS)");
    for (int64_t t : p)
      SSM_CHECK(t >= 0 && t < V, "beam_search: prompt ", b, " holds token ", t,
                ", outside the vocabulary [0, ", V, ")");
    min_len = std::min(min_len, p.size());
  }

  std::vector<PromptState> state(static_cast<size_t>(B));
  std::vector<int64_t> prefix;  // (B, min_len)
  for (int64_t b = 0; b < B; ++b) {
    const auto& p = prompts[size_t(b)];
    prefix.insert(prefix.end(), p.begin(), p.begin() + min_len);
    state[size_t(b)].beams.push_back(Beam{});
    state[size_t(b)].fed = min_len;
  }
  Tensor logits = decoder.prefill(Tensor::from_vector(prefix, {B, int64_t(min_len)}));

  // Decoder rows hold the live beams of the prompts not done, prompt by prompt.
  for (;;) {
    int64_t n = 0;
    for (const auto& st : state) n += int64_t(st.beams.size());
    SSM_CHECK(logits.dim() == 2 && logits.size(0) == n && logits.size(1) == V,
              "beam_search: the decoder returned logits ", describe(logits), ", expected (", n,
              ", ", V, ")");
    std::vector<double> all = logits.to_vector<double>();  // (n, V)
    std::vector<int64_t> next_rows, next_inputs;
    int64_t row = 0;  // first decoder row of the prompt at hand
    for (int64_t b = 0; b < B; ++b) {
      PromptState& st = state[size_t(b)];
      if (st.done) continue;
      const auto& prompt = prompts[size_t(b)];
      const int64_t m = int64_t(st.beams.size());
      if (st.fed < prompt.size()) {  // still reading its prompt (one beam)
        next_rows.push_back(row);
        next_inputs.push_back(prompt[st.fed++]);
        row += m;
        continue;
      }
      std::vector<Candidate> cand;
      for (int64_t j = 0; j < m; ++j) {
        std::span<const double> r(all.data() + (row + j) * V, size_t(V));
        check_logits(r, "beam_search");
        beam_candidates(r, st.beams[size_t(j)], j, 2 * K, cand);
      }
      std::sort(cand.begin(), cand.end(), ranks_before);
      if (cand.size() > 2 * K) cand.resize(2 * K);

      std::vector<Beam> live;
      std::vector<int64_t> live_rows;
      for (size_t rank = 0; rank < cand.size() && live.size() < K; ++rank) {
        const Candidate& c = cand[rank];
        Beam grown = st.beams[size_t(c.beam)];
        grown.tokens.push_back(c.token);
        grown.logprob = c.score;
        if (c.token == options.eos) {
          if (rank < K) add_hypothesis(st.ended, std::move(grown), alpha, K);
        } else {
          live.push_back(std::move(grown));
          live_rows.push_back(row + c.beam);
        }
      }

      // HF is_done, on the best candidate's score and the new length.
      const int64_t len = int64_t(st.beams[0].tokens.size()) + 1;
      bool done = live.empty();
      if (!done && st.ended.size() >= K) {
        double best = cand[0].score, worst = worst_score(st.ended);
        switch (options.stop) {
          case BeamStop::when_full:
            done = true;
            break;
          case BeamStop::heuristic:
            done = worst >= best / std::pow(double(len), alpha);
            break;
          case BeamStop::exact: {
            double at = alpha > 0 ? double(options.max_new_tokens) : double(len);
            done = worst >= best / std::pow(at, alpha);
            break;
          }
        }
      }
      if (!done && len == options.max_new_tokens) {  // HF finalize: live beams join as they are
        for (Beam& beam : live) add_hypothesis(st.ended, std::move(beam), alpha, K);
        done = true;
      }
      if (done) {
        st.done = true;
        st.beams.clear();
      } else {
        for (size_t i = 0; i < live.size(); ++i) {
          next_rows.push_back(live_rows[i]);
          next_inputs.push_back(live[i].tokens.back());
        }
        st.beams = std::move(live);
      }
      row += m;
    }
    if (next_rows.empty()) break;
    std::vector<int64_t> same(static_cast<size_t>(n));
    std::iota(same.begin(), same.end(), 0);
    const int64_t n_next = int64_t(next_rows.size());
    if (next_rows != same) decoder.reorder(Tensor::from_vector(next_rows, {n_next}));
    logits = decoder.step(Tensor::from_vector(next_inputs, {n_next}));
  }

  std::vector<std::vector<Hypothesis>> result;
  for (auto& st : state) {
    std::stable_sort(st.ended.begin(), st.ended.end(),
                     [](const auto& a, const auto& b) { return a.score > b.score; });
    if (st.ended.size() > size_t(options.n_best)) st.ended.resize(size_t(options.n_best));
    result.push_back(std::move(st.ended));
  }
  return result;
}

std::vector<std::vector<Hypothesis>> beam_search(Decoder& decoder, const Tensor& prompts,
                                                 const BeamSearchOptions& options) {
  return beam_search(decoder, token_rows(prompts, "beam_search"), options);
}

std::vector<std::vector<int64_t>> best_tokens(const std::vector<std::vector<Hypothesis>>& n_best) {
  std::vector<std::vector<int64_t>> out;
  for (const auto& hyps : n_best)
    out.push_back(hyps.empty() ? std::vector<int64_t>{} : hyps[0].tokens);
  return out;
}

std::vector<std::vector<int64_t>> greedy_decode(Decoder& decoder,
                                                const std::vector<std::vector<int64_t>>& prompts,
                                                int64_t max_new_tokens, int64_t eos) {
  SSM_CHECK(eos >= -1 && eos < decoder.vocab(),
            "greedy_decode: eos must be -1 (none) or a token id in [0, ", decoder.vocab(),
            "), got ", eos);
  SamplingOptions o;
  o.temperature = 0;
  o.max_new_tokens = max_new_tokens;
  if (eos >= 0) o.stop_tokens = {eos};
  return generate(decoder, prompts, o);
}

std::vector<std::vector<int64_t>> greedy_decode(Decoder& decoder, const Tensor& prompts,
                                                int64_t max_new_tokens, int64_t eos) {
  return greedy_decode(decoder, token_rows(prompts, "greedy_decode"), max_new_tokens, eos);
}

}  // namespace ssm::infer
