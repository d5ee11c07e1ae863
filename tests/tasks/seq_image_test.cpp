// The sequential image tasks (tasks/seq_image/task.h) on a small synthetic data set: the
// splits, psmnist's fixed permutation, and the batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "support/cli.h"
#include "support/images.h"
#include "tasks/seq_image/task.h"

namespace ssm::tasks {
namespace {

using ssm::testing::TempDir;

TEST(SeqImage, SplitsAreDisjointSeededAndCoverTheTrainingImages) {
  IndexSplit s = split_indices(1000, 0.1, 42);
  EXPECT_EQ(s.validation.size(), 100u);
  EXPECT_EQ(s.train.size(), 900u);
  std::set<int64_t> all(s.train.begin(), s.train.end());
  for (int64_t v : s.validation) EXPECT_TRUE(all.insert(v).second) << v << " is in both splits";
  EXPECT_EQ(all.size(), 1000u);
  EXPECT_EQ(*all.begin(), 0);
  EXPECT_EQ(*all.rbegin(), 999);
  EXPECT_EQ(split_indices(1000, 0.1, 42).validation, s.validation) << "a seed gives one split";
  EXPECT_NE(split_indices(1000, 0.1, 43).validation, s.validation);
  // Not simply the first or last images.
  EXPECT_NE(s.validation.front(), 0);
  EXPECT_NE(s.validation.back(), 99);
}

TEST(SeqImage, PsmnistPermutationIsAFixedBijection) {
  TempDir tmp("ssm_images");
  testing::write_synthetic_images(tmp.path(), "mnist", 40, 10, 4);
  ImageFiles files = image_files(tmp.path(), "mnist");
  SeqImageData d;
  SeqImageTask a("psmnist", files, d, true, 8, 0), b("psmnist", files, d, true, 8, 5);
  const std::vector<int64_t>& p = a.permutation();
  ASSERT_EQ(p.size(), 16u);
  std::vector<int64_t> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(sorted[size_t(i)], i);
  EXPECT_EQ(b.permutation(), p) << "the same in every run, whatever the training seed";
  int64_t fixed_points = 0;
  for (int64_t i = 0; i < 16; ++i) fixed_points += p[size_t(i)] == i;
  EXPECT_LT(fixed_points, 8) << "a real shuffle";
  d.permutation_seed = 1;
  EXPECT_NE(SeqImageTask("psmnist", files, d, true, 8, 0).permutation(), p);
  // The batch reads pixel p[t] at position t.
  models::Batch pb = a.batch(a.train_set(), {3});
  auto ids = pb.ids.to_vector<int64_t>();
  for (int64_t t = 0; t < 16; ++t)
    EXPECT_EQ(ids[size_t(t)], a.train_set().pixels[size_t(3 * 16 + p[size_t(t)])]) << t;
}

TEST(SeqImage, TrainingBatchesHoldTrainingImagesInASeededOrder) {
  TempDir tmp("ssm_images");
  testing::write_synthetic_images(tmp.path(), "mnist", 50, 10, 4);
  SeqImageData d;
  d.val_fraction = 0.2;
  SeqImageTask task("smnist", image_files(tmp.path(), "mnist"), d, false, 8, 3);
  EXPECT_TRUE(task.permutation().empty());
  ASSERT_EQ(task.split().train.size(), 40u);
  ASSERT_EQ(task.batches_per_epoch(), 5);
  const data::ImageSet& set = task.train_set();
  std::set<std::vector<int64_t>> train_images, val_images;
  for (int64_t i : task.split().validation)
    val_images.insert(std::vector<int64_t>(set.pixels.begin() + i * 16, set.pixels.begin() + i * 16 + 16));
  std::multiset<int64_t> labels;
  for (int64_t b = 0; b < 5; ++b) {
    models::Batch batch = task.train_batch(0, b);
    ASSERT_EQ(batch.ids.shape(), (Shape{8, 16}));
    ASSERT_EQ(batch.targets.shape(), (Shape{8, 1}));
    auto ids = batch.ids.to_vector<int64_t>();
    auto targets = batch.targets.to_vector<int64_t>();
    for (int64_t r = 0; r < 8; ++r) {
      std::vector<int64_t> img(ids.begin() + r * 16, ids.begin() + r * 16 + 16);
      EXPECT_TRUE(train_images.insert(img).second) << "each image once an epoch";
      EXPECT_FALSE(val_images.count(img)) << "a validation image in a training batch";
      // The synthetic label: bright top half for 0.
      EXPECT_EQ(targets[size_t(r)], img[0] > 100 ? 0 : 1);
      labels.insert(targets[size_t(r)]);
    }
  }
  EXPECT_EQ(labels.count(0) + labels.count(1), 40u);
  EXPECT_EQ(task.train_batch(0, 2).ids.to_vector<int64_t>(), task.train_batch(0, 2).ids.to_vector<int64_t>());
  EXPECT_NE(task.train_batch(1, 0).ids.to_vector<int64_t>(), task.train_batch(0, 0).ids.to_vector<int64_t>())
      << "each epoch in a new order";
}

}  // namespace
}  // namespace ssm::tasks
