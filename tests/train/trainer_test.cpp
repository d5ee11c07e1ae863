// The training loop: N steps + resume + N steps gives exactly the losses and weights of 2N
// steps; a killed checkpoint write never hides the last good checkpoint; bad setups fail clearly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/error.h"
#include "core/file.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "tasks/run.h"
#include "train/trainer.h"
#include "support/paths.h"

namespace ssm::train {
namespace {

namespace fs = std::filesystem;

std::string scratch(const std::string& name) {
  std::string dir = (fs::temp_directory_path() / ("ssm_trainer_test_" + name)).string();
  fs::remove_all(dir);
  return dir;
}

tasks::RunConfig tiny_config(const std::string& out, int64_t steps) {
  std::string yaml = R"(
name: tiny
seed: 3
model: {d_model: 16, d_state: 4, d_conv: 3, expand: 2, n_layer: 1}
training: {max_steps: )" + std::to_string(steps) + R"(, batch_size: 16, eval_every: 4, eval_batches: 2,
           log_every: 2, grad_clip: 1.0, threads: 2}
optimizer: {lr: 0.003}
scheduler: {name: cosine, warmup_steps: 1}
dataset: {name: piglatin_small, path: )" + ssm::testing::source_dir() + R"(/data}
)";
  return tasks::parse_run_config(yaml, "tiny.yaml", {"output_dir=" + out});
}

TrainResult train(const tasks::RunConfig& cfg, const TrainOptions& opt) {
  return tasks::run_training(cfg, opt);
}

TEST(Trainer, ResumeIsBitIdentical) {
  const int64_t N = 6;
  std::string a = scratch("straight"), b = scratch("resumed");
  TrainResult straight = train(tiny_config(a, 2 * N), {.progress = false});
  ASSERT_EQ(straight.losses.size(), size_t(2 * N));

  TrainResult first = train(tiny_config(b, 2 * N), {.halt_after = N, .progress = false});
  ASSERT_EQ(first.steps, N);
  TrainResult second = train(tiny_config(b, 2 * N), {.resume = true, .progress = false});
  EXPECT_TRUE(second.resumed);
  ASSERT_EQ(second.losses.size(), size_t(N));
  for (size_t i = 0; i < size_t(N); ++i) {
    EXPECT_EQ(first.losses[i], straight.losses[i]) << "step " << i + 1;
    EXPECT_EQ(second.losses[i].first, straight.losses[N + i].first);
    // Bitwise equality, not closeness.
    EXPECT_EQ(second.losses[i].second, straight.losses[N + i].second) << "step " << N + i + 1;
  }
  auto wa = safetensors::load(a + "/checkpoints/step-00000012/model.safetensors").tensors;
  auto wb = safetensors::load(b + "/checkpoints/step-00000012/model.safetensors").tensors;
  ASSERT_EQ(wa.size(), wb.size());
  for (auto& [name, t] : wa) EXPECT_EQ(t.to_vector<float>(), wb.at(name).to_vector<float>()) << name;
}

TEST(Trainer, OutputDirectoryIsALoadableModelDirectory) {
  std::string d = scratch("modeldir");
  TrainResult r = train(tiny_config(d, 4), {.progress = false});
  EXPECT_TRUE(r.best.count("val_loss"));
  io::LoadedModel m = io::load_model_dir(d);
  ASSERT_TRUE(m.tokenizer);
  EXPECT_EQ(m.model->config_json().at("hidden_size"), 16);
  EXPECT_TRUE(fs::exists(d + "/metrics.jsonl"));
  EXPECT_TRUE(fs::exists(d + "/train_config.yaml"));
  bool has_events = false;
  for (auto& e : fs::directory_iterator(d))
    has_events |= e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_TRUE(has_events);
}

TEST(Trainer, AKilledCheckpointWriteLeavesTheLastGoodOne) {
  std::string d = scratch("killed");
  train(tiny_config(d, 4), {.progress = false});
  // A kill during the next save leaves a half-written temporary directory behind.
  fs::create_directories(d + "/checkpoints/.step-00000008.tmp");
  std::ofstream(d + "/checkpoints/.step-00000008.tmp/model.safetensors") << "garbage";
  TrainResult r = train(tiny_config(d, 8), {.resume = true, .progress = false});
  EXPECT_TRUE(r.resumed);
  EXPECT_EQ(r.losses.front().first, 5);  // continued after step 4
  EXPECT_EQ(r.steps, 8);
}

TEST(Trainer, RefusesToOverwriteAnExistingRunWithoutResume) {
  std::string d = scratch("existing");
  train(tiny_config(d, 2), {.progress = false});
  try {
    train(tiny_config(d, 2), {.progress = false});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
}

TEST(Trainer, ResumeWithoutACheckpointIsAnErrorNamingTheFolder) {
  std::string d = scratch("nothing_to_resume");
  try {
    train(tiny_config(d, 2), {.resume = true, .progress = false});
    FAIL() << "expected an error: there is nothing to resume";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("--resume"), std::string::npos) << m;
    EXPECT_NE(m.find(d), std::string::npos) << m;
    EXPECT_NE(m.find("no checkpoint"), std::string::npos) << m;
  }
  EXPECT_FALSE(fs::exists(d + "/checkpoints")) << "nothing was trained";
}

TEST(Trainer, CorruptCheckpointIsAClearError) {
  std::string d = scratch("corrupt");
  train(tiny_config(d, 2), {.progress = false});
  std::ofstream(d + "/checkpoints/step-00000002/trainer_state.json") << "{not json";
  try {
    train(tiny_config(d, 4), {.resume = true, .progress = false});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("trainer_state.json"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace ssm::train
