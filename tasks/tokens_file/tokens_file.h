// A token-id file for `ssm eval --tokens FILE`: token ids, one sequence a line,
// whitespace-separated. It measures a model's mean next-token cross-entropy over every predicted
// position (positions 1..n-1 of each line). It is not a training data set: it has no tokenizer
// (so a trained model could not read or write text) and no split, so dataset.name does not offer it.
#pragma once

#include <string>
#include <vector>

#include "models/model.h"
#include "train/task.h"

namespace ssm::tasks {

class TokensFile {
 public:
  // Reads the file; errors name the file, the line and the offending text.
  explicit TokensFile(const std::string& path);
  // loss, tokens, sequences and perplexity over the whole file (max_batches > 0: the first
  // batches of 64 lines of one length). Ids at or above the model's vocabulary are errors naming
  // their line and position.
  train::Metrics evaluate(const models::Model& model, int64_t max_batches) const;

 private:
  struct Line {
    int64_t lineno;
    std::vector<int64_t> ids;
  };
  std::string path_;
  std::vector<Line> lines_;
};

}  // namespace ssm::tasks
