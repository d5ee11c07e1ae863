// The sequence classifier (models/classifier.h): its names and config.json, pooling over the real
// positions only, refusing to decode, and learning a synthetic image task through the trainer.
#include <gtest/gtest.h>

#include <set>

#include "core/autograd.h"
#include "core/error.h"
#include "models/classifier.h"
#include "models/registry.h"
#include "ops/join.h"
#include "support/cli.h"
#include "support/compare.h"
#include "support/images.h"
#include "tasks/run.h"
#include "tasks/run_config.h"

namespace ssm::models {
namespace {

ModelConfig tiny(const std::string& pooling, const std::string& input = "scalar") {
  ModelConfig c;
  c.architecture = "classifier";
  c.mixer = "mamba";
  c.options = model_defaults("classifier", "mamba");
  c.options["vocab_size"] = 256;
  c.options["d_model"] = 8;
  c.options["n_layer"] = 2;
  c.options["d_state"] = 4;
  c.options["num_labels"] = 3;
  c.options["pooling"] = pooling;
  c.options["input"] = input;
  c.dtype = DType::f64;
  return c;
}

TEST(Classifier, ParametersHaveHuggingFaceNames) {
  for (const char* input : {"scalar", "embedding"}) {
    SCOPED_TRACE(input);
    Generator gen(0);
    auto model = create_model(tiny("mean", input), gen);
    std::map<std::string, Shape> shapes;
    for (auto& [name, p] : model->named_parameters()) shapes[name] = p.shape();
    EXPECT_EQ(shapes.at("encoder.weight"), std::string(input) == "scalar" ? Shape({8, 1}) : Shape({256, 8}));
    EXPECT_EQ(shapes.count("encoder.bias"), std::string(input) == "scalar" ? 1u : 0u);
    EXPECT_EQ(shapes.at("backbone.layers.1.norm.weight"), Shape({8}));
    EXPECT_EQ(shapes.count("backbone.layers.0.mixer.A_log"), 1u);
    EXPECT_EQ(shapes.at("backbone.norm_f.weight"), Shape({8}));
    EXPECT_EQ(shapes.at("classifier.weight"), Shape({3, 8}));
    EXPECT_EQ(shapes.at("classifier.bias"), Shape({3}));
    EXPECT_EQ(architecture_info("classifier").parameters(tiny("mean", input)), double(model->num_parameters()));
  }
}

TEST(Classifier, ConfigJsonReadsBackAsAClassifierNotAnLM) {
  Generator gen(0);
  auto model = create_model(tiny("last", "embedding"), gen);
  json j = model->config_json();
  EXPECT_EQ(j.at("architectures"), json::array({"SSMForSequenceClassification"}));
  EXPECT_EQ(j.at("model_type"), "ssm");
  EXPECT_EQ(j.at("ssm_architecture"), "classifier");
  EXPECT_EQ(j.at("ssm_mixer"), "mamba");
  EXPECT_EQ(j.at("num_labels"), 3);
  EXPECT_EQ(j.at("ssm_pooling"), "last");
  EXPECT_EQ(j.at("ssm_input"), "embedding");
  EXPECT_EQ(j.at("hidden_size"), 8);
  EXPECT_EQ(j.at("state_size"), 4) << "the mixer's keys as the LM writes them";
  EXPECT_FALSE(architecture_info("lm").reads(j)) << "an LM must not claim a classifier's dir";
  ModelConfig back = model_config_from_json(j, "config.json");
  EXPECT_EQ(back.architecture, "classifier");
  EXPECT_EQ(back.options.at("pooling"), "last");
  EXPECT_EQ(back.options.at("num_labels"), 3);
  back.dtype = DType::f64;
  Generator gen2(0);
  EXPECT_EQ(create_model(back, gen2)->config_json(), j);
}

TEST(Classifier, PoolsOverTheRealPositionsOnly) {
  // With a causal mixer, pads after a sequence change nothing before them, so a padded row must
  // score as the unpadded one: mean over real positions, and last = the last real one.
  for (const char* pooling : {"mean", "last"}) {
    SCOPED_TRACE(pooling);
    Generator gen(3);
    auto model = create_model(tiny(pooling), gen);
    NoGradGuard ng;
    Tensor ids = Tensor::randint({1, 6}, 0, 256, DType::i64, &gen);
    Tensor padded = cat({ids, Tensor::full({1, 3}, -1, DType::i64)}, 1);
    Tensor both = cat({cat({ids, Tensor::randint({1, 3}, 0, 256, DType::i64, &gen)}, 1), padded}, 0);
    Tensor alone = model->forward(ids);
    ASSERT_EQ(alone.shape(), (Shape{1, 1, 3}));
    EXPECT_CLOSE(model->forward(padded), alone, testing::default_tol(DType::f64));
    EXPECT_CLOSE(model->forward(both).narrow(0, 1, 1), alone, testing::default_tol(DType::f64));
    // ... and the real positions do count: other pixels, other scores.
    Tensor other = model->forward(cat({ids.narrow(1, 0, 5), Tensor::full({1, 1}, 0, DType::i64)}, 1));
    EXPECT_NE(testing::compare(other, alone, testing::default_tol(DType::f64)), "");
  }
}

TEST(Classifier, ResidualDropoutActsOnlyWhileTraining) {
  ModelConfig c = tiny("mean");
  c.options["residual_dropout"] = 0.5;
  Generator gen(0);
  auto model = create_model(c, gen);
  Tensor ids = Tensor::randint({2, 6}, 0, 256, DType::i64, &gen);
  Tensor a = model->forward(ids), b = model->forward(ids);
  EXPECT_NE(testing::compare(a, b, testing::default_tol(DType::f64)), "") << "a fresh mask each call";
  Tensor plain;
  {
    NoGradGuard ng;  // evaluation: no dropout
    plain = model->forward(ids);
    EXPECT_CLOSE(model->forward(ids), plain, testing::default_tol(DType::f64));
  }
  model->eval();
  EXPECT_CLOSE(model->forward(ids), plain, testing::default_tol(DType::f64));
  ModelConfig none = tiny("mean");
  Generator gen2(0);
  auto undropped = create_model(none, gen2);
  NoGradGuard ng;  // the same weights without dropout give the evaluation's scores
  EXPECT_CLOSE(undropped->forward(ids), plain, testing::default_tol(DType::f64));
}

TEST(Classifier, RefusesToDecodeAndToTrainOnTokenTargets) {
  Generator gen(0);
  auto model = create_model(tiny("mean"), gen);
  EXPECT_FALSE(model->next_token_logits());
  try {
    model->new_state(1);
    ADD_FAILURE() << "new_state should throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("does not decode"), std::string::npos) << e.what();
  }
  Tensor ids = Tensor::randint({2, 5}, 0, 256, DType::i64, &gen);
  try {
    model->loss({ids, Tensor::zeros({2, 5}, DType::i64), Tensor()});
    ADD_FAILURE() << "per-position targets should be refused";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("one label per sequence"), std::string::npos) << e.what();
  }
}

TEST(Classifier, LearnsSyntheticImagesThroughTheTrainer) {
  // Two classes told apart by where the bright half is (tests/support/images.h): chance is 0.5.
  testing::TempDir tmp("ssm_classifier");
  testing::write_synthetic_images(tmp.path(), "mnist", 200, 40, 4);
  std::string yaml = R"(
model: {architecture: classifier, mixer: mamba, d_model: 16, n_layer: 1, d_state: 4, num_labels: 10}
training: {epochs: 6, batch_size: 20, eval_every: 0, threads: 1}
optimizer: {lr: 0.02}
dataset: {name: smnist, val_fraction: 0.2, path: )" + tmp.path() + R"(}
output_dir: )" + tmp.path() + "/run\n";
  tasks::RunConfig cfg = tasks::parse_run_config(yaml, tmp.path() + "/smnist_test.yaml");
  auto task = tasks::make_task(cfg);
  Generator gen(0);
  auto untrained = create_model(cfg.model_for(256), gen);
  double before = task->evaluate(*untrained, 0).at("val_accuracy");
  train::TrainOptions opt;
  opt.progress = false;
  train::TrainResult r = tasks::run_training(cfg, opt);
  EXPECT_EQ(r.steps, 6 * 8);
  double after = r.best.at("val_accuracy");
  EXPECT_GE(after, 0.9) << "before training: " << before;
  EXPECT_GT(after, before + 0.2);
  EXPECT_LT(r.losses.back().second, r.losses.front().second);
}

}  // namespace
}  // namespace ssm::models
