// Training tasks: where batches come from and how a model is scored.
//
// Batches are a pure function of (epoch, index within the epoch), so a resumed run only needs
// those two numbers to continue on exactly the same data.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "data/batch.h"
#include "data/piglatin_dataset.h"
#include "data/tokenizer.h"
#include "models/mamba_lm.h"

namespace ssm::train {

using Metrics = std::map<std::string, double>;

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int64_t batches_per_epoch() const = 0;
  virtual data::Batch train_batch(int64_t epoch, int64_t index) const = 0;
  // Validation metrics: always "val_loss" (mean next-token cross-entropy in nats over trained
  // positions) and "val_tokens"; word tasks add "val_accuracy", byte tasks "val_bpb".
  // max_batches > 0 evaluates only the first batches.
  virtual Metrics evaluate(const models::MambaLM& model, int64_t max_batches) const = 0;
  virtual const data::Tokenizer& tokenizer() const = 0;
  virtual std::string describe() const = 0;
};

// Mean cross-entropy of a batch over its trained positions (targets != -100).
Tensor batch_loss(const models::MambaLM& model, const data::Batch& batch);

// English -> Pig Latin as a language model over "<sos> word <sep> pig-latin <eos>", trained and
// scored on the target characters and <eos>. Word accuracy is exact match under greedy
// decoding, computed with one teacher-forced pass: greedy decoding reproduces the target
// exactly iff the argmax at every target position is the target character (ties go to the
// lowest id in both), so no token-by-token decoding is needed to measure it.
class PigLatinTask : public Task {
 public:
  PigLatinTask(const std::string& tsv_path, uint64_t split_seed, double val_fraction,
               int64_t batch_size, uint64_t shuffle_seed);
  std::string name() const override { return "piglatin"; }
  int64_t batches_per_epoch() const override;
  data::Batch train_batch(int64_t epoch, int64_t index) const override;
  Metrics evaluate(const models::MambaLM& model, int64_t max_batches) const override;
  const data::Tokenizer& tokenizer() const override { return tok_; }
  std::string describe() const override;

  // Scores any list of pairs (used by `ssm eval`).
  Metrics evaluate_pairs(const models::MambaLM& model, const data::PairBatches& pairs,
                         int64_t max_batches) const;

 private:
  data::CharTokenizer tok_;
  std::string path_;
  uint64_t shuffle_seed_;
  std::unique_ptr<data::PairBatches> train_, val_;
  mutable std::map<int64_t, std::vector<std::vector<int64_t>>> plans_;  // epoch -> plan cache
};

// Byte-level language model over a text file, split 90/10 by position. Training windows of
// seq_len bytes are drawn at random positions from a generator seeded by (seed, epoch, index);
// validation reads the held-out text in consecutive chunks and reports bits per byte.
class ByteLMTask : public Task {
 public:
  ByteLMTask(const std::string& text_path, double val_fraction, int64_t batch_size,
             int64_t seq_len, uint64_t seed);
  std::string name() const override { return "byte_lm"; }
  int64_t batches_per_epoch() const override;
  data::Batch train_batch(int64_t epoch, int64_t index) const override;
  Metrics evaluate(const models::MambaLM& model, int64_t max_batches) const override;
  const data::Tokenizer& tokenizer() const override { return tok_; }
  std::string describe() const override;

 private:
  data::ByteTokenizer tok_;
  std::string train_text_, val_text_;
  int64_t batch_size_, seq_len_;
  uint64_t seed_;
};

}  // namespace ssm::train
