// The Pig-Latin tasks (piglatin_small, piglatin_large): English -> Pig Latin as a language model
// over "<sos> word <sep> pig-latin <eos>", trained and scored on the target characters and
// <eos> (tasks/piglatin/dataset.h). Word accuracy is exact match under greedy decoding, computed
// with one teacher-forced pass: greedy decoding reproduces the target exactly iff the argmax at
// every target position is the target character (ties go to the lowest id in both), so no
// token-by-token decoding is needed to measure it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/schema.h"
#include "tasks/piglatin/dataset.h"
#include "tasks/registry.h"

namespace ssm::tasks {

inline constexpr const char* kSmallTsv = "piglatin_small.tsv";
inline constexpr const char* kLargeTsv = "piglatin_large.tsv";

// The dataset.* keys of the Pig-Latin tasks.
struct PigLatinData {
  std::string path;  // "": the data directory; a directory, or the TSV itself
  double val_fraction = 0.2;
  int64_t split_seed = 0;

  static const schema::Section<PigLatinData>& section();
};

class PigLatinTask : public train::Task {
 public:
  PigLatinTask(const std::string& tsv_path, uint64_t split_seed, double val_fraction,
               int64_t batch_size, uint64_t shuffle_seed);
  std::string name() const override { return "piglatin"; }
  int64_t batches_per_epoch() const override;
  models::Batch train_batch(int64_t epoch, int64_t index) const override;
  train::Metrics evaluate(const models::Model& model, int64_t max_batches) const override;
  std::vector<std::string> shown_metrics() const override { return {"val_accuracy"}; }
  const data::Tokenizer& tokenizer() const override { return tok_; }
  std::string describe() const override;

  // Scores any list of pairs.
  train::Metrics evaluate_pairs(const models::Model& model, const PairBatches& pairs,
                                int64_t max_batches) const;
  const PairSplit& split() const { return split_; }

 private:
  data::CharTokenizer tok_;
  std::string path_;
  uint64_t shuffle_seed_;
  PairSplit split_;
  std::unique_ptr<PairBatches> train_, val_;
  mutable std::map<int64_t, std::vector<std::vector<int64_t>>> plans_;  // epoch -> plan cache
};

// Registry entries (tasks/registry.cpp): the two word sets, and the builder of their TSVs.
TaskInfo piglatin_task_info(const std::string& name, const char* tsv, const std::string& doc);
DataBuilder piglatin_data_builder();

}  // namespace ssm::tasks
