// ModelDecoder over a Mamba LM: the recurrent state gives the whole-sequence forward's logits,
// reorder moves the state's rows, and greedy / beam / sampled decoding agree with recomputing the
// forward each step.
#include "infer/model_decoder.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "core/parallel.h"
#include "infer/beam_search.h"
#include "infer/sampling.h"
#include "models/registry.h"
#include "ops/index.h"

namespace ssm::infer {
namespace {

using models::Model;
using Seq = std::vector<int64_t>;

std::unique_ptr<Model> tiny_model(Generator& gen) {
  models::ModelConfig c;
  c.options = {{"vocab_size", 13}, {"d_model", 16}, {"d_state", 4}, {"n_layer", 2}, {"expand", 2},
               {"d_conv", 4},
               {"initializer_range", 0.5}};  // logits spread enough for clear arg-maxes
  c.dtype = DType::f64;                       // so step and forward agree to ~1e-12
  return models::create_model(c, gen);
}

double max_abs_diff(const Tensor& a, const Tensor& b) {
  auto x = a.to_vector<double>(), y = b.to_vector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// The last position's logits of the whole-sequence forward.
std::vector<double> last_logits(const Model& model, const Seq& ids) {
  Tensor logits = model.forward(Tensor::from_vector(ids, {1, int64_t(ids.size())}));
  return logits.select(1, int64_t(ids.size()) - 1).to_vector<double>();
}

TEST(Decoder, MambaPrefillAndStepsMatchTheForward) {
  Generator gen(1);
  std::unique_ptr<Model> m = tiny_model(gen);
  const Model& model = *m;
  Tensor ids = Tensor::randint({2, 7}, 0, 13, DType::i64, &gen);
  Tensor full = model.forward(ids);  // (2, 7, V)
  ModelDecoder dec(model);
  EXPECT_EQ(dec.vocab(), 13);
  Tensor logits = dec.prefill(ids.narrow(1, 0, 3).contiguous());
  EXPECT_LT(max_abs_diff(logits, full.select(1, 2)), 1e-10);
  for (int64_t t = 3; t < 7; ++t) {
    logits = dec.step(ids.select(1, t).contiguous());
    EXPECT_LT(max_abs_diff(logits, full.select(1, t)), 1e-10) << "position " << t;
  }
}

TEST(Decoder, MambaReorderMovesStateRows) {
  Generator gen(2);
  std::unique_ptr<Model> m = tiny_model(gen);
  const Model& model = *m;
  const std::vector<Seq> prompts = {{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}};
  Seq flat;
  for (const Seq& p : prompts) flat.insert(flat.end(), p.begin(), p.end());
  ModelDecoder dec(model);
  dec.prefill(Tensor::from_vector(flat, {3, 4}));
  const Seq rows = {2, 0, 2}, next = {0, 6, 3};
  dec.reorder(Tensor::from_vector(rows, {3}));
  for (Tensor* t : dec.state()->rows()) ASSERT_EQ(t->size(0), 3);
  Tensor logits = dec.step(Tensor::from_vector(next, {3}));
  for (int64_t i = 0; i < 3; ++i) {
    Seq seq = prompts[size_t(rows[size_t(i)])];
    seq.push_back(next[size_t(i)]);
    auto want = last_logits(model, seq);
    auto got = logits.select(0, i).to_vector<double>();
    for (size_t v = 0; v < want.size(); ++v) EXPECT_NEAR(got[v], want[v], 1e-10) << "row " << i;
  }
}

TEST(Decoder, MambaDecodingEqualsRecomputingTheForward) {
  Generator gen(3);
  std::unique_ptr<Model> m = tiny_model(gen);
  const Model& model = *m;
  const std::vector<Seq> prompts = {{1, 4, 2}, {7}};
  const int64_t eos = 0;

  // Greedy: the arg-max of the forward's last logits, one token at a time.
  ModelDecoder dec(model);
  auto greedy = greedy_decode(dec, prompts, 8, eos);
  for (size_t b = 0; b < prompts.size(); ++b) {
    Seq seq = prompts[b], want;
    while (want.size() < 8 && (want.empty() || want.back() != eos)) {
      auto l = last_logits(model, seq);
      int64_t t = int64_t(std::max_element(l.begin(), l.end()) - l.begin());
      want.push_back(t);
      seq.push_back(t);
    }
    EXPECT_EQ(greedy[b], want) << "prompt " << b;
  }

  // Beam search: every hypothesis carries the forward's log-probability of its tokens.
  BeamSearchOptions o;
  o.beam_size = 3;
  o.n_best = 3;
  o.eos = eos;
  o.max_new_tokens = 6;
  auto beams = beam_search(dec, prompts, o);
  for (size_t b = 0; b < prompts.size(); ++b) {
    ASSERT_FALSE(beams[b].empty());
    for (const Hypothesis& h : beams[b]) {
      Seq seq = prompts[b];
      double lp = 0;
      for (int64_t t : h.tokens) {
        auto l = last_logits(model, seq);
        double top = *std::max_element(l.begin(), l.end()), sum = 0;
        for (double v : l) sum += std::exp(v - top);
        lp += l[size_t(t)] - top - std::log(sum);
        seq.push_back(t);
      }
      EXPECT_NEAR(h.logprob, lp, 1e-9);
    }
  }

  // Sampling: a seed gives the same tokens on 1 and 2 threads.
  SamplingOptions s;
  s.seed = 11;
  s.top_k = 5;
  s.max_new_tokens = 20;
  int saved = num_threads();
  set_num_threads(1);
  auto one = generate(dec, prompts, s);
  set_num_threads(2);
  auto two = generate(dec, prompts, s);
  set_num_threads(saved);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace ssm::infer
