// What the trainer trains on: a task gives batches and scores a model (tasks/ implements them).
//
// Batches are a pure function of (epoch, index within the epoch), so a resumed run only needs
// those two numbers to continue on exactly the same data.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "models/model.h"

namespace ssm::train {

using Metrics = std::map<std::string, double>;

class Task {
 public:
  virtual ~Task() = default;
  virtual std::string name() const = 0;
  virtual int64_t batches_per_epoch() const = 0;
  virtual models::Batch train_batch(int64_t epoch, int64_t index) const = 0;
  // Validation metrics: always "val_loss" (mean next-token cross-entropy in nats over trained
  // positions) and "val_tokens"; tasks add their own ("val_accuracy", "val_bpb", ...).
  // max_batches > 0 evaluates only the first batches.
  virtual Metrics evaluate(const models::Model& model, int64_t max_batches) const = 0;
  // The held-out test split, for tasks that keep one apart from validation (the image
  // classification tasks): "test_loss", "test_examples" and the task's own ("test_accuracy").
  // Empty for tasks without one.
  virtual Metrics evaluate_test(const models::Model&, int64_t /*max_batches*/) const { return {}; }
  // The metrics of evaluate() that progress lines show beside val_loss ("val_accuracy").
  virtual std::vector<std::string> shown_metrics() const { return {}; }
  virtual const data::Tokenizer& tokenizer() const = 0;
  virtual std::string describe() const = 0;
};

// One evaluation batch's sums: cross-entropy over its trained positions, their count, and how
// many rows have every trained position's argmax right (exact match under greedy decoding).
struct BatchScore {
  double loss_sum = 0;
  int64_t tokens = 0;
  int64_t rows = 0, rows_right = 0;
  BatchScore& operator+=(const BatchScore& o);
};
BatchScore score_batch(const models::Model& model, const models::Batch& batch);

}  // namespace ssm::train
