#include "train/task.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"
#include "data/file.h"
#include "data/text_dataset.h"
#include "ops/cross_entropy.h"
#include "ops/reduce.h"

namespace ssm::train {

Tensor batch_loss(const models::MambaLM& model, const data::Batch& batch) {
  Device dev = model.device();  // batches are made on the CPU
  Tensor logits = model.forward(batch.ids.to(dev));
  int64_t V = logits.size(2);
  return cross_entropy(logits.reshape({-1, V}), batch.targets.to(dev).reshape({-1}),
                       {.ignore_index = data::kIgnoreIndex});
}

namespace {

// Sum of cross-entropy over trained positions, their count, and per-row "every trained
// position's argmax is right".
struct BatchScore {
  double loss_sum = 0;
  int64_t tokens = 0;
  int64_t rows = 0, rows_right = 0;
};

BatchScore score(const models::MambaLM& model, const data::Batch& b) {
  NoGradGuard ng;
  Device dev = model.device();
  Tensor logits = model.forward(b.ids.to(dev));
  int64_t B = logits.size(0), L = logits.size(1), V = logits.size(2);
  Tensor losses = cross_entropy(logits.reshape({-1, V}), b.targets.to(dev).reshape({-1}),
                                {.ignore_index = data::kIgnoreIndex, .reduction = Reduction::sum});
  auto pred = argmax(logits, -1).cpu().to_vector<int64_t>();
  auto tgt = b.targets.to_vector<int64_t>();
  BatchScore s;
  s.loss_sum = losses.cpu().item<double>();
  s.rows = B;
  for (int64_t r = 0; r < B; ++r) {
    bool right = true;
    for (int64_t t = 0; t < L; ++t) {
      int64_t y = tgt[size_t(r * L + t)];
      if (y == data::kIgnoreIndex) continue;
      ++s.tokens;
      right = right && pred[size_t(r * L + t)] == y;
    }
    s.rows_right += right;
  }
  return s;
}

}  // namespace

// ---- Pig Latin ----------------------------------------------------------------------------------

PigLatinTask::PigLatinTask(const std::string& tsv_path, uint64_t split_seed, double val_fraction,
                           int64_t batch_size, uint64_t shuffle_seed)
    : path_(tsv_path), shuffle_seed_(shuffle_seed) {
  data::PairSplit split = data::split_pairs(data::load_pairs_tsv(tsv_path), split_seed, val_fraction);
  train_ = std::make_unique<data::PairBatches>(split.train, tok_, batch_size);
  val_ = std::make_unique<data::PairBatches>(split.validation, tok_, batch_size);
}

int64_t PigLatinTask::batches_per_epoch() const {
  return int64_t(train_->epoch_plan(shuffle_seed_, 0).size());
}

data::Batch PigLatinTask::train_batch(int64_t epoch, int64_t index) const {
  auto it = plans_.find(epoch);
  if (it == plans_.end()) {
    plans_.clear();  // one epoch at a time
    it = plans_.emplace(epoch, train_->epoch_plan(shuffle_seed_, epoch)).first;
  }
  SSM_CHECK(index >= 0 && index < int64_t(it->second.size()), "PigLatinTask: batch ", index,
            " of epoch ", epoch, " does not exist (", it->second.size(), " per epoch)");
  return train_->batch(it->second[size_t(index)]);
}

Metrics PigLatinTask::evaluate_pairs(const models::MambaLM& model, const data::PairBatches& pairs,
                                     int64_t max_batches) const {
  auto plan = pairs.fixed_plan();
  BatchScore total;
  int64_t n = 0;
  for (const auto& rows : plan) {
    if (max_batches > 0 && n++ >= max_batches) break;
    BatchScore s = score(model, pairs.batch(rows));
    total.loss_sum += s.loss_sum;
    total.tokens += s.tokens;
    total.rows += s.rows;
    total.rows_right += s.rows_right;
  }
  SSM_CHECK(total.tokens > 0, "evaluate: no validation examples");
  return {{"val_loss", total.loss_sum / double(total.tokens)},
          {"val_tokens", double(total.tokens)},
          {"val_accuracy", double(total.rows_right) / double(total.rows)},
          {"val_words", double(total.rows)}};
}

Metrics PigLatinTask::evaluate(const models::MambaLM& model, int64_t max_batches) const {
  return evaluate_pairs(model, *val_, max_batches);
}

std::string PigLatinTask::describe() const {
  std::ostringstream os;
  os << "Pig Latin from " << path_ << ": " << train_->size() << " training words, "
     << val_->size() << " validation words, " << batches_per_epoch() << " batches per epoch";
  return os.str();
}

// ---- bytes --------------------------------------------------------------------------------------

ByteLMTask::ByteLMTask(const std::string& text_path, double val_fraction, int64_t batch_size,
                       int64_t seq_len, uint64_t seed)
    : batch_size_(batch_size), seq_len_(seq_len), seed_(seed) {
  std::string text = data::read_file(text_path);
  data::TextSplit split = data::split_text(text, val_fraction);
  train_text_ = std::move(split.train);
  val_text_ = std::move(split.validation);
  SSM_CHECK(int64_t(train_text_.size()) > seq_len + 1, "ByteLMTask: ", text_path, " has only ",
            train_text_.size(), " training bytes for windows of ", seq_len);
}

int64_t ByteLMTask::batches_per_epoch() const {
  return std::max<int64_t>(1, int64_t(train_text_.size()) / (batch_size_ * seq_len_));
}

data::Batch ByteLMTask::train_batch(int64_t epoch, int64_t index) const {
  // One generator per batch, keyed by (seed, epoch, index): resumable and thread-independent.
  Generator gen(seed_ * 0x9E3779B97F4A7C15ull + uint64_t(epoch) * 1000003ull + uint64_t(index));
  return data::sample_windows(train_text_, batch_size_, seq_len_, gen);
}

Metrics ByteLMTask::evaluate(const models::MambaLM& model, int64_t max_batches) const {
  BatchScore total;
  int64_t n = 0;
  for (const data::Batch& b : data::sequential_chunks(val_text_, batch_size_, seq_len_)) {
    if (max_batches > 0 && n++ >= max_batches) break;
    BatchScore s = score(model, b);
    total.loss_sum += s.loss_sum;
    total.tokens += s.tokens;
  }
  SSM_CHECK(total.tokens > 0, "evaluate: no validation text");
  double loss = total.loss_sum / double(total.tokens);
  return {{"val_loss", loss}, {"val_tokens", double(total.tokens)}, {"val_bpb", loss / std::log(2.0)}};
}

std::string ByteLMTask::describe() const {
  std::ostringstream os;
  os << "byte LM: " << train_text_.size() << " training bytes, " << val_text_.size()
     << " validation bytes, windows of " << seq_len_ << ", " << batches_per_epoch()
     << " batches per epoch";
  return os.str();
}

}  // namespace ssm::train
