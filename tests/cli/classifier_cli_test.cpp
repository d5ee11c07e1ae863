// A sequence classifier from the command line, on a small synthetic image data set in the MNIST
// layout (SSM_DATA names it, as for a user who built the real one): train, eval on the test split,
// info, data show, and generate refusing the model.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/file.h"
#include "support/cli.h"
#include "support/images.h"

namespace ssm::testing {
namespace {

#define EXPECT_HAS(text, part) EXPECT_NE((text).find(part), std::string::npos) << (text)

TEST(ClassifierCli, TrainsEvaluatesOnTheTestSplitAndRefusesToGenerate) {
  TempDir tmp("ssm_clf_cli");
  const std::string data = tmp.path() + "/data", out = tmp.path() + "/run";
  write_synthetic_images(data, "mnist", 80, 30, 4);
  write_file_atomic(tmp.path() + "/smnist_tiny.yaml", R"(
model: {architecture: classifier, mixer: mamba, d_model: 8, n_layer: 1, d_state: 4, num_labels: 10}
training: {max_steps: 6, batch_size: 16, eval_every: 3}
optimizer: {lr: 0.01}
dataset: {name: smnist}
)");
  const std::string ssm = "cd " + quote(tmp.path()) + " && SSM_DATA=" + quote(data) + " " + quote(SSM_CLI_PATH);
  Cmd train = run(ssm + " train -q -c smnist_tiny.yaml -o " + quote(out) + " 2>&1");
  ASSERT_EQ(train.status, 0) << train.out;
  EXPECT_HAS(train.out, "val_accuracy");

  Cmd eval = run(ssm + " eval -m " + quote(out) + " --json 2>&1");
  ASSERT_EQ(eval.status, 0) << eval.out;
  nlohmann::json j = nlohmann::json::parse(eval.out);
  EXPECT_EQ(j.at("split"), "test");
  EXPECT_EQ(j.at("test_tokens"), 30) << "every test image, one label each";
  double acc = j.at("accuracy");
  EXPECT_GE(acc, 0.0);
  EXPECT_LE(acc, 1.0);
  EXPECT_EQ(j.at("accuracy"), j.at("test_accuracy"));
  EXPECT_GT(j.at("loss").get<double>(), 0.0);
  Cmd text = run(ssm + " eval -m " + quote(out) + " 2>&1");
  ASSERT_EQ(text.status, 0) << text.out;
  EXPECT_HAS(text.out, "split: test (the held-out test set of smnist)");
  Cmd val = run(ssm + " eval -m " + quote(out) + " --split val --json 2>&1");
  ASSERT_EQ(val.status, 0) << val.out;
  EXPECT_EQ(nlohmann::json::parse(val.out).at("val_tokens"), 8) << "10% of 80 training images";

  Cmd info = run(ssm + " info -m " + quote(out) + " 2>&1");
  EXPECT_EQ(info.status, 0) << info.out;
  EXPECT_HAS(info.out, "mamba classifier, 1 layers, d_model 8, 10 labels");

  Cmd gen = run(ssm + " generate -m " + quote(out) + " --prompt ab 2>&1");
  EXPECT_EQ(gen.status, 1) << gen.out;
  EXPECT_HAS(gen.out, "it gives one label per sequence, not next-token predictions");
  Cmd tokens = run(ssm + " eval -m " + quote(out) + " --tokens /dev/null 2>&1");
  EXPECT_EQ(tokens.status, 1) << tokens.out;
  EXPECT_HAS(tokens.out, "cannot eval --tokens");

  Cmd show = run(ssm + " data show psmnist 2>&1");
  EXPECT_EQ(show.status, 0) << show.out;
  EXPECT_HAS(show.out, "80 training and 30 test images of 4 x 4 pixels");
  EXPECT_HAS(show.out, "72 train, 8 validation");
  EXPECT_HAS(show.out, "pixel order: permutation of seed 92916");
}

TEST(ClassifierCli, ATaskAndAnArchitectureThatDoNotFitAreConfigErrors) {
  TempDir tmp("ssm_clf_cli");
  write_file_atomic(tmp.path() + "/lm_on_images.yaml", "model: {d_model: 32}\ntraining: {max_steps: 1}\ndataset: {name: smnist}\n");
  write_file_atomic(tmp.path() + "/classifier_on_words.yaml",
                    "model: {architecture: classifier}\ntraining: {max_steps: 1}\n"
                    "dataset: {name: piglatin_small}\n");
  const std::string ssm = "cd " + quote(tmp.path()) + " && " + quote(SSM_CLI_PATH);
  Cmd lm = run(ssm + " train -c lm_on_images.yaml 2>&1");
  EXPECT_EQ(lm.status, 1) << lm.out;
  EXPECT_HAS(lm.out, "must be classifier for smnist");
  Cmd clf = run(ssm + " train -c classifier_on_words.yaml 2>&1");
  EXPECT_EQ(clf.status, 1) << clf.out;
  EXPECT_HAS(clf.out, "classifier needs a classification data set");
}

}  // namespace
}  // namespace ssm::testing
