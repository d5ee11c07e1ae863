// Text generation by sampling: repetition penalty, temperature, top-k and top-p (nucleus), in the
// order Hugging Face's generate() applies them, drawn from the Philox generator of core/rng.h so a
// seed gives the same tokens on any machine and thread count.
//
// Dims: B = prompts, V = vocabulary size.
//
// One step for one row, on the logits in float64:
//   1. repetition penalty (CTRL, Keskar et al. 2019; HF RepetitionPenaltyLogitsProcessor): every
//      token already in the prompt or the output, counted once, has its logit divided by the
//      penalty when >= 0 and multiplied by it when < 0;
//   2. temperature: logits / temperature; temperature 0 means greedy: the arg-max of the
//      penalized logits (lowest id on ties), and steps 3-5 are skipped;
//   3. top-k (k > 0): keep the tokens whose logit is >= the k-th largest (ties with the k-th are
//      kept, as in HF TopKLogitsWarper);
//   4. top-p (p < 1): order the kept tokens by logit (descending, lower id first on ties) and keep
//      each one whose predecessors' probability mass is < p: the smallest head with mass >= p;
//   5. softmax over the kept tokens and an inverse-CDF draw in token-id order: with u in [0, 1),
//      the first token whose cumulative probability exceeds u * (total mass).
//
// The draw: the n-th new token (n = 0, 1, ...) of prompt b uses
//   u = uniform_f64(w[0], w[1]) of philox4x32_10(seed, (b << 32) + n),
// so row b's tokens depend only on the seed, b and its own history: never on the thread count,
// on the other prompts, or on when they stop.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/tensor.h"
#include "infer/decoder.h"

namespace ssm::infer {

struct SamplingOptions {
  double temperature = 1.0;         // >= 0; 0 = greedy
  int64_t top_k = 0;                // >= 0; 0 = off
  double top_p = 1.0;               // in (0, 1]; 1 = off
  double repetition_penalty = 1.0;  // > 0; 1 = off, > 1 discourages repeats
  uint64_t seed = 0;
  int64_t max_new_tokens = 256;      // >= 0
  std::vector<int64_t> stop_tokens;  // a row stops after emitting one of these

  // Throws ssm::Error naming the first bad option, its value and the allowed range. `vocab` > 0
  // also checks the stop tokens against [0, vocab).
  void validate(int64_t vocab = 0) const;
};

// Called once per new token, in order of generation (row = the prompt's index), so a CLI can
// print tokens as they come.
using TokenCallback = std::function<void(int64_t row, int64_t token)>;

// Generates up to max_new_tokens after each prompt and returns the new tokens per prompt. A stop
// token ends its row and is included in the output (as in HF). Prompts may differ in length:
// the decoder prefills the common prefix length, then longer prompts are fed token by token while
// shorter ones already generate, so every row reads exactly its own prompt (no padding, which a
// recurrent state could not ignore). Each prompt needs at least one token (e.g. a BOS).
// (A literal `{{0}}` also reads as a Tensor; spell it std::vector<std::vector<int64_t>>{{0}}.)
std::vector<std::vector<int64_t>> generate(Decoder& decoder,
                                           const std::vector<std::vector<int64_t>>& prompts,
                                           const SamplingOptions& options,
                                           const TokenCallback& on_token = {});
// prompts: (B, L) integer tensor of equal-length prompts.
std::vector<std::vector<int64_t>> generate(Decoder& decoder, const Tensor& prompts,
                                           const SamplingOptions& options,
                                           const TokenCallback& on_token = {});

// Steps 1-5 above for one row: the probabilities the sampler draws from (0 for excluded tokens;
// one-hot on the arg-max when temperature is 0). `previous` holds prompt + output so far.
std::vector<double> next_token_probs(std::span<const double> logits,
                                     std::span<const int64_t> previous,
                                     const SamplingOptions& options);
// The inverse-CDF draw of step 5 for u in [0, 1).
int64_t sample_index(std::span<const double> probs, double u);
// The uniform number for the n-th new token of row b (see the header comment).
double sampling_uniform(uint64_t seed, int64_t row, int64_t n);

// Throws ssm::Error (prefixed by `where`) when a row of logits holds NaN or +inf, or only -inf
// (-inf alone masks a token out).
void check_logits(std::span<const double> logits, const char* where);
// ids: (B, L) integer tensor -> B rows of L ids; `where` names the caller in the error.
std::vector<std::vector<int64_t>> token_rows(const Tensor& ids, const char* where);

}  // namespace ssm::infer
