// The tokens_file data set: token ids, one sequence a line, whitespace-separated (`ssm eval
// --tokens FILE`, or dataset.name tokens_file). It evaluates a model's mean next-token
// cross-entropy over every predicted position (positions 1..n-1 of each line); it has no
// tokenizer, so it does not train.
#pragma once

#include <string>
#include <vector>

#include "core/schema.h"
#include "tasks/registry.h"

namespace ssm::tasks {

struct TokensFileData {
  std::string path;  // the file of token ids
  double val_fraction = 0.1;
  int64_t seq_len = 256;

  static const schema::Section<TokensFileData>& section();
};

class TokensFileTask : public train::Task {
 public:
  // Reads the file; errors name the file, the line and the offending text.
  explicit TokensFileTask(const std::string& path);
  std::string name() const override { return "tokens_file"; }
  int64_t batches_per_epoch() const override { return 0; }
  models::Batch train_batch(int64_t epoch, int64_t index) const override;
  // val_loss, val_tokens, val_sequences and val_perplexity over the whole file (max_batches > 0:
  // the first batches of 64 lines of one length). Ids at or above the model's vocabulary are
  // errors naming their line and position.
  train::Metrics evaluate(const models::Model& model, int64_t max_batches) const override;
  const data::Tokenizer& tokenizer() const override;
  std::string describe() const override;

 private:
  struct Line {
    int64_t lineno;
    std::vector<int64_t> ids;
  };
  std::string path_;
  std::vector<Line> lines_;
};

TaskInfo tokens_file_task_info();

}  // namespace ssm::tasks
