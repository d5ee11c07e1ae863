// Greedy and beam-search decoding (used by Pig-Latin translation), over any Decoder.
//
// Dims: B = prompts, K = beam_size, V = vocabulary size.
//
// Beam search follows Hugging Face's BeamSearchScorer. Each prompt starts with one beam. At each
// step every live beam's log-softmax is added to its log-probability; the candidates (beam, token)
// are ranked by that sum (descending; ties: lower token id, then lower beam index), and walked in
// rank order:
//   - an eos candidate of rank < K ends a hypothesis, scored logprob / len^length_penalty with len
//     = the new tokens including eos (HF's generated_len); the K best hypotheses are kept;
//   - any other candidate becomes a live beam, until K are collected.
// The decoder's state follows the surviving beams through Decoder::reorder. A prompt stops once
// K hypotheses have ended and `stop` says no live beam can beat the worst of them, when no live
// beam is left, or at max_new_tokens, where the live beams join the hypotheses as they are.
// Prompts may differ in length (fed as in sampling.h: the common prefix is prefilled, the rest is
// stepped one token at a time before that prompt's search begins).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "infer/decoder.h"

namespace ssm::infer {

// When a prompt with K ended hypotheses stops (HF's early_stopping values).
enum class BeamStop {
  heuristic,  // HF False (the default): the best live beam, scored at its current length, does
              // not beat the worst hypothesis kept
  when_full,  // HF True: at once
  exact,      // HF "never": no live beam could beat it at any length up to max_new_tokens
};

struct BeamSearchOptions {
  int64_t beam_size = 4;        // K >= 1
  int64_t max_new_tokens = 64;  // >= 1
  int64_t eos = -1;             // the token that ends a hypothesis; -1: none
  double length_penalty = 1.0;  // alpha: score = logprob / len^alpha; > 0 favours long outputs
  int64_t n_best = 1;           // hypotheses returned per prompt, in [1, K]
  BeamStop stop = BeamStop::heuristic;

  // Throws ssm::Error naming the first bad option; `vocab` > 0 also checks eos against it.
  void validate(int64_t vocab = 0) const;
};

struct Hypothesis {
  std::vector<int64_t> tokens;  // the new tokens; ends with eos unless cut at max_new_tokens
  double logprob = 0;           // sum of log p(token) under the model
  double score = 0;             // logprob / tokens.size()^length_penalty
};

// Per prompt, up to n_best hypotheses, best first (ties: the one that ended first).
std::vector<std::vector<Hypothesis>> beam_search(Decoder& decoder,
                                                 const std::vector<std::vector<int64_t>>& prompts,
                                                 const BeamSearchOptions& options);
// prompts: (B, L) integer tensor.
std::vector<std::vector<Hypothesis>> beam_search(Decoder& decoder, const Tensor& prompts,
                                                 const BeamSearchOptions& options);
// The tokens of each prompt's best hypothesis.
std::vector<std::vector<int64_t>> best_tokens(const std::vector<std::vector<Hypothesis>>& n_best);

// The arg-max token at each step (lower id on ties) until eos (included) or max_new_tokens:
// generate() with temperature 0, and beam search with K = 1.
std::vector<std::vector<int64_t>> greedy_decode(Decoder& decoder,
                                                const std::vector<std::vector<int64_t>>& prompts,
                                                int64_t max_new_tokens, int64_t eos = -1);
std::vector<std::vector<int64_t>> greedy_decode(Decoder& decoder, const Tensor& prompts,
                                                int64_t max_new_tokens, int64_t eos = -1);

}  // namespace ssm::infer
