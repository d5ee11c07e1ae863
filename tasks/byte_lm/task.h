// The byte-level language-model task (austen_char): a text file split by position, random
// training windows of seq_len bytes drawn from a generator seeded by (seed, epoch, index), and
// validation over the held-out text in consecutive chunks, reported in bits per byte too.
#pragma once

#include <string>

#include "core/schema.h"
#include "data/tokenizer.h"
#include "tasks/registry.h"

namespace ssm::tasks {

inline constexpr const char* kAustenText = "austen.txt";

// The dataset.* keys of a byte LM.
struct ByteLMData {
  std::string path;  // "": the data directory; a directory, or the text file itself
  double val_fraction = 0.1;
  int64_t seq_len = 256;

  static const schema::Section<ByteLMData>& section();
};

class ByteLMTask : public train::Task {
 public:
  ByteLMTask(const std::string& text_path, double val_fraction, int64_t batch_size,
             int64_t seq_len, uint64_t seed);
  std::string name() const override { return "byte_lm"; }
  int64_t batches_per_epoch() const override;
  models::Batch train_batch(int64_t epoch, int64_t index) const override;
  train::Metrics evaluate(const models::Model& model, int64_t max_batches) const override;
  std::vector<std::string> shown_metrics() const override { return {"val_bpb"}; }
  const data::Tokenizer& tokenizer() const override { return tok_; }
  std::string describe() const override;

 private:
  data::ByteTokenizer tok_;
  std::string train_text_, val_text_;
  int64_t batch_size_, seq_len_;
  uint64_t seed_;
};

// Registry entries (tasks/registry.cpp): the Austen byte LM and the builder of austen.txt.
TaskInfo austen_char_task_info();
DataBuilder austen_data_builder();

}  // namespace ssm::tasks
