// The Pig-Latin data set: (English, Pig Latin) word pairs from a TSV file, a seeded train /
// validation split, and batches of equal-length sequences.
//
// An example is one sequence, read left to right by a causal model:
//     ids:      <sos> s_1 .. s_n <sep> t_1 .. t_m <eos>          (L = n + m + 3)
//     targets:  -100  -100 .. -100 t_1 t_2 .. t_m <eos> -100
// targets[i] = ids[i + 1] where ids[i + 1] is a target character or <eos>, and kIgnoreIndex
// elsewhere: the model reads the source and the separator and is trained on the target only, so
// cross-entropy with ignore_index = -100 is the per-character target loss.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "data/batch.h"
#include "data/tokenizer.h"

namespace ssm::tasks {

struct WordPair {
  std::string source;  // English
  std::string target;  // Pig Latin
};

// Reads `english<TAB>piglatin` lines. ssm::Error naming the file and the line for a line that is
// not two tab-separated fields, a source that check_word rejects, a target with characters other
// than a-z and '-', or a source seen before. An empty file is an error too.
std::vector<WordPair> load_pairs_tsv(const std::string& path);
std::vector<WordPair> parse_pairs_tsv(std::string_view text, const std::string& source);

struct PairSplit {
  std::vector<WordPair> train, validation;  // each in file order
};

// Puts round(n * validation_fraction) pairs, chosen by a Philox permutation of `seed`, into
// validation and the rest into train: the same split for the same seed on any machine.
PairSplit split_pairs(const std::vector<WordPair>& pairs, uint64_t seed,
                      double validation_fraction = 0.2);

struct EncodedPair {
  std::vector<int64_t> ids, targets;  // (L,) each, as in the diagram above
};
EncodedPair encode_pair(const data::CharTokenizer& tok, const WordPair& pair);

// Batches of examples that all have the same length L.
class PairBatches {
 public:
  PairBatches(std::vector<WordPair> pairs, const data::CharTokenizer& tok, int64_t max_batch);

  int64_t size() const { return int64_t(pairs_.size()); }
  const WordPair& pair(int64_t i) const { return pairs_[size_t(i)]; }
  const EncodedPair& example(int64_t i) const { return encoded_[size_t(i)]; }
  // Example indices by sequence length L.
  const std::map<int64_t, std::vector<int64_t>>& by_length() const { return by_length_; }

  // The batches of one epoch as example indices: each length's examples shuffled, cut into
  // batches of at most max_batch (the last of each length may be smaller), and the batches of
  // all lengths shuffled. A function of (seed, epoch) only, so a resumed run needs just the
  // epoch and the batch index. Every example appears exactly once.
  std::vector<std::vector<int64_t>> epoch_plan(uint64_t seed, int64_t epoch) const;
  // The same cut without shuffling (lengths ascending, examples in order): for evaluation.
  std::vector<std::vector<int64_t>> fixed_plan() const;
  // The tensors of the examples `rows`, which must share a length.
  data::Batch batch(std::span<const int64_t> rows) const;

 private:
  std::vector<WordPair> pairs_;
  std::vector<EncodedPair> encoded_;
  std::map<int64_t, std::vector<int64_t>> by_length_;
  int64_t max_batch_;
};

}  // namespace ssm::tasks
