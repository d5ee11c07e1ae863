// Greedy and beam decoding on hand-made Markov chains with known answers, against exhaustive
// search on a history-dependent model, and the decoder state kept through reorder.
#include "infer/beam_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "core/error.h"
#include "core/rng.h"
#include "tests/infer/toy_decoder.h"

namespace ssm::infer {
namespace {

using testing::markov;
using testing::ToyDecoder;
using Seq = std::vector<int64_t>;

constexpr int64_t EOS = 0, BOS = 1;

// Pseudo-random logits in [-2, 2) that depend on the whole history (an FNV hash of it).
std::vector<double> hashed_logits(const Seq& h, int64_t vocab) {
  uint64_t x = 1469598103934665603ull;
  for (int64_t t : h) x = (x ^ uint64_t(t)) * 1099511628211ull;
  std::vector<double> out;
  for (int64_t v = 0; v < vocab; ++v) {
    Philox r = philox4x32_10(x, uint64_t(v));
    out.push_back(4 * uniform_f64(r.w[0], r.w[1]) - 2);
  }
  return out;
}

double log_softmax_at(const std::vector<double>& x, int64_t i) {
  double top = *std::max_element(x.begin(), x.end()), sum = 0;
  for (double v : x) sum += std::exp(v - top);
  return x[size_t(i)] - top - std::log(sum);
}

// log p(tokens | prompt) under the hashed model.
double sequence_logprob(const Seq& prompt, const Seq& tokens, int64_t vocab) {
  Seq h = prompt;
  double lp = 0;
  for (int64_t t : tokens) {
    lp += log_softmax_at(hashed_logits(h, vocab), t);
    h.push_back(t);
  }
  return lp;
}

ToyDecoder hashed_decoder(int64_t vocab) {
  return ToyDecoder(vocab, [vocab](const Seq& h) { return hashed_logits(h, vocab); });
}

// fn throws an ssm::Error whose message contains `part`.
void expect_error(const std::function<void()>& fn, const std::string& part) {
  try {
    fn();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    return;
  }
  ADD_FAILURE() << "no ssm::Error; expected one mentioning '" << part << "'";
}

TEST(BeamSearch, BeatsGreedyOnAHandMadeChain) {
  // Tokens: 0 EOS, 1 BOS, 2 A, 3 B, 4 C, 5 D. Greedy takes A (0.6) and ends with p = 0.6 * 0.4
  // = 0.24; two beams keep B (0.4), whose C has 0.9: p = 0.36.
  const int64_t A = 2, B = 3, C = 4;
  auto table = markov({{1, 0, 0, 0, 0, 0},
                       {0, 0, 0.6, 0.4, 0, 0},
                       {0.3, 0, 0, 0, 0.4, 0.3},
                       {0.05, 0, 0, 0, 0.9, 0.05},
                       {1, 0, 0, 0, 0, 0},
                       {1, 0, 0, 0, 0, 0}});
  ToyDecoder dec(6, table);
  EXPECT_EQ(greedy_decode(dec, {{BOS}}, 10, EOS), (std::vector<Seq>{{A, C, EOS}}));
  BeamSearchOptions o;
  o.beam_size = 2;
  o.n_best = 2;
  o.eos = EOS;
  auto res = beam_search(dec, {{BOS}}, o);
  ASSERT_EQ(res.size(), 1u);
  ASSERT_EQ(res[0].size(), 2u);
  EXPECT_EQ(res[0][0].tokens, (Seq{B, C, EOS}));
  EXPECT_NEAR(res[0][0].logprob, std::log(0.36), 1e-12);
  EXPECT_NEAR(res[0][0].score, std::log(0.36) / 3, 1e-12);
  EXPECT_EQ(res[0][1].tokens, (Seq{A, C, EOS}));
  EXPECT_NEAR(res[0][1].logprob, std::log(0.24), 1e-12);
  EXPECT_EQ(best_tokens(res), (std::vector<Seq>{{B, C, EOS}}));
}

TEST(BeamSearch, LengthPenaltyTradesLengthForProbability) {
  // Tokens: 0 EOS, 1 BOS, 2 A, 3 B, 4 C. [EOS] has p 0.5; [A, EOS] has p 0.27.
  // alpha = 1: ln 0.27 / 2 = -0.655 beats ln 0.5 = -0.693; alpha = 0: the raw sums decide.
  const int64_t A = 2;
  auto table = markov({{1, 0, 0, 0, 0},
                       {0.5, 0, 0.3, 0.2, 0},
                       {0.9, 0, 0, 0, 0.1},
                       {0.5, 0, 0, 0, 0.5},
                       {1, 0, 0, 0, 0}});
  ToyDecoder dec(5, table);
  BeamSearchOptions o;
  o.beam_size = 2;
  o.n_best = 2;
  o.eos = EOS;
  o.length_penalty = 1.0;
  auto res = beam_search(dec, {{BOS}}, o)[0];
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].tokens, (Seq{A, EOS}));
  EXPECT_NEAR(res[0].score, std::log(0.27) / 2, 1e-12);
  EXPECT_EQ(res[1].tokens, (Seq{EOS}));
  o.length_penalty = 0.0;
  res = beam_search(dec, {{BOS}}, o)[0];
  EXPECT_EQ(res[0].tokens, (Seq{EOS}));
  EXPECT_NEAR(res[0].score, std::log(0.5), 1e-12);
  EXPECT_EQ(res[1].tokens, (Seq{A, EOS}));
}

TEST(BeamSearch, StopRulesFollowHuggingFace) {
  // Tokens: 0 EOS, 1 BOS, 2 A, 3 B, 4 C, 5 D. One beam: [EOS] ends at once (ln 0.6 = -0.51);
  // A B C D EOS has ln 0.2 / 5 = -0.32 with alpha = 1, found only when the search goes on while
  // a longer beam could still win (HF early_stopping="never").
  auto table = markov({{1, 0, 0, 0, 0, 0},
                       {0.6, 0, 0.4, 0, 0, 0},
                       {0.5, 0, 0, 0.5, 0, 0},
                       {0, 0, 0, 0, 1, 0},
                       {0, 0, 0, 0, 0, 1},
                       {1, 0, 0, 0, 0, 0}});
  ToyDecoder dec(6, table);
  BeamSearchOptions o;
  o.beam_size = 1;
  o.eos = EOS;
  o.max_new_tokens = 5;
  for (BeamStop stop : {BeamStop::heuristic, BeamStop::when_full}) {
    o.stop = stop;
    EXPECT_EQ(best_tokens(beam_search(dec, {{BOS}}, o)), (std::vector<Seq>{{EOS}}));
  }
  o.stop = BeamStop::exact;
  auto res = beam_search(dec, {{BOS}}, o)[0];
  EXPECT_EQ(res[0].tokens, (Seq{2, 3, 4, 5, EOS}));
  EXPECT_NEAR(res[0].score, std::log(0.2) / 5, 1e-12);
}

TEST(BeamSearch, TiesGoToTheLowerTokenId) {
  // Tokens: 0 EOS, 1 BOS, 2 A, 3 B; A and B equally likely.
  auto table = markov({{1, 0, 0, 0}, {0, 0, 0.5, 0.5}, {1, 0, 0, 0}, {1, 0, 0, 0}});
  ToyDecoder dec(4, table);
  BeamSearchOptions o;
  o.eos = EOS;
  o.beam_size = 2;
  o.n_best = 2;
  auto res = beam_search(dec, {{BOS}}, o)[0];
  ASSERT_EQ(res.size(), 2u);
  EXPECT_EQ(res[0].tokens, (Seq{2, EOS}));
  EXPECT_EQ(res[1].tokens, (Seq{3, EOS}));
  o.beam_size = 1;
  o.n_best = 1;
  EXPECT_EQ(best_tokens(beam_search(dec, {{BOS}}, o)), (std::vector<Seq>{{2, EOS}}));
  EXPECT_EQ(greedy_decode(dec, {{BOS}}, 5, EOS), (std::vector<Seq>{{2, EOS}}));
}

TEST(BeamSearch, OneBeamIsGreedy) {
  for (uint64_t seed = 0; seed < 20; ++seed) {
    Generator gen(seed);
    auto logits = Tensor::randn({6, 6}, DType::f64, &gen).to_vector<double>();
    auto fn = [logits](const Seq& h) {
      size_t t = size_t(h.back());
      return std::vector<double>(logits.begin() + t * 6, logits.begin() + (t + 1) * 6);
    };
    ToyDecoder a(6, fn), b(6, fn);
    const std::vector<Seq> prompts = {{1}, {2, 3}, {4, 5, 1}};
    BeamSearchOptions o;
    o.beam_size = 1;
    o.max_new_tokens = 12;
    o.eos = seed % 2 ? EOS : -1;
    EXPECT_EQ(best_tokens(beam_search(a, prompts, o)), greedy_decode(b, prompts, 12, o.eos))
        << "seed " << seed;
  }
}

TEST(BeamSearch, WideBeamEqualsExhaustiveSearch) {
  // V = 4 with EOS = 0 and 3 new tokens: 40 possible outputs (1 + 3 + 9 end on EOS, 27 are cut).
  // With 40 beams and the exact stop rule nothing is pruned, so every output is found, scored as
  // the model scores it.
  const int64_t V = 4;
  const Seq prompt = {1, 2};
  std::vector<Seq> all;
  for (int64_t a = 0; a < V; ++a) {
    if (a == EOS) {
      all.push_back({a});
      continue;
    }
    for (int64_t b = 0; b < V; ++b) {
      if (b == EOS) {
        all.push_back({a, b});
        continue;
      }
      for (int64_t c = 0; c < V; ++c) all.push_back({a, b, c});
    }
  }
  ASSERT_EQ(all.size(), 40u);
  for (double alpha : {0.0, 0.7, 1.5}) {
    std::map<Seq, double> want;
    for (const Seq& s : all)
      want[s] = sequence_logprob(prompt, s, V) / std::pow(double(s.size()), alpha);
    ToyDecoder dec = hashed_decoder(V);
    BeamSearchOptions o;
    o.beam_size = 40;
    o.n_best = 40;
    o.eos = EOS;
    o.max_new_tokens = 3;
    o.length_penalty = alpha;
    o.stop = BeamStop::exact;
    auto res = beam_search(dec, {prompt}, o)[0];
    ASSERT_EQ(res.size(), 40u) << "alpha " << alpha;
    for (size_t i = 0; i < res.size(); ++i) {
      ASSERT_TRUE(want.count(res[i].tokens));
      EXPECT_NEAR(res[i].score, want[res[i].tokens], 1e-12);
      if (i > 0) {
        EXPECT_GE(res[i - 1].score, res[i].score);
      }
    }
    auto best = std::max_element(want.begin(), want.end(),
                                 [](const auto& x, const auto& y) { return x.second < y.second; });
    EXPECT_EQ(res[0].tokens, best->first) << "alpha " << alpha;
  }
}

TEST(BeamSearch, ReorderKeepsEachBeamsOwnState) {
  // On a model whose logits depend on the whole history, every hypothesis's log-probability
  // equals the model's own score of its tokens only if reorder moved the right state along.
  const int64_t V = 9;
  const std::vector<Seq> prompts = {{1, 2, 3}, {4}, {5, 6}};
  ToyDecoder dec = hashed_decoder(V);
  BeamSearchOptions o;
  o.beam_size = 4;
  o.n_best = 4;
  o.eos = EOS;
  o.max_new_tokens = 8;
  o.length_penalty = 0.8;
  auto res = beam_search(dec, prompts, o);
  ASSERT_EQ(res.size(), 3u);
  for (size_t b = 0; b < prompts.size(); ++b) {
    ASSERT_EQ(res[b].size(), 4u);
    for (const Hypothesis& h : res[b]) {
      double lp = sequence_logprob(prompts[b], h.tokens, V);
      EXPECT_NEAR(h.logprob, lp, 1e-9);
      EXPECT_NEAR(h.score, lp / std::pow(double(h.tokens.size()), 0.8), 1e-9);
      EXPECT_TRUE(h.tokens.back() == EOS || int64_t(h.tokens.size()) == o.max_new_tokens);
    }
    // Each prompt alone gives the same hypotheses.
    ToyDecoder alone = hashed_decoder(V);
    auto single = beam_search(alone, {prompts[b]}, o)[0];
    ASSERT_EQ(single.size(), res[b].size());
    for (size_t i = 0; i < single.size(); ++i) EXPECT_EQ(single[i].tokens, res[b][i].tokens);
  }
  // The decoder never held more than B * K rows.
  for (int64_t n : dec.batch_sizes) EXPECT_LE(n, 12);
}

TEST(BeamSearch, TensorPromptsEqualVectorPrompts) {
  BeamSearchOptions o;
  o.beam_size = 3;
  o.eos = EOS;
  o.max_new_tokens = 6;
  ToyDecoder a = hashed_decoder(7), b = hashed_decoder(7);
  auto from_tensor = beam_search(a, Tensor::from_vector(Seq{1, 2, 3, 4}, {2, 2}), o);
  auto from_vector = beam_search(b, {{1, 2}, {3, 4}}, o);
  EXPECT_EQ(best_tokens(from_tensor), best_tokens(from_vector));
  ToyDecoder c = hashed_decoder(7), d = hashed_decoder(7);
  EXPECT_EQ(greedy_decode(c, Tensor::from_vector(Seq{1, 2, 3, 4}, {2, 2}), 6, EOS),
            greedy_decode(d, {{1, 2}, {3, 4}}, 6, EOS));
}

TEST(BeamSearch, InvalidOptionsNameTheOption) {
  ToyDecoder dec = hashed_decoder(5);
  auto bad = [&](const std::function<void(BeamSearchOptions&)>& set, const std::string& option) {
    BeamSearchOptions o;
    set(o);
    expect_error([&] { beam_search(dec, {{1}}, o); }, option);
  };
  bad([](auto& o) { o.beam_size = 0; }, "beam_size");
  bad([](auto& o) { o.max_new_tokens = 0; }, "max_new_tokens");
  bad([](auto& o) { o.eos = 5; }, "eos");
  bad([](auto& o) { o.eos = -2; }, "eos");
  bad([](auto& o) { o.length_penalty = INFINITY; }, "length_penalty");
  bad([](auto& o) { o.n_best = 5; }, "n_best");
  BeamSearchOptions o;
  expect_error([&] { beam_search(dec, {{1}, {}}, o); }, "prompt 1 is empty");
  expect_error([&] { beam_search(dec, {{7}}, o); }, "token 7");
  expect_error([&] { greedy_decode(dec, {{1}}, 4, -3); }, "eos");
}

}  // namespace
}  // namespace ssm::infer
