// The training loop: N steps + resume + N steps gives exactly the losses and weights of 2N
// steps; a killed checkpoint write never hides the last good checkpoint; bad setups fail clearly.
// A run stopped by a signal stops at a step boundary with a checkpoint and a loadable model
// directory, and continues bit-identically; a run resumed after a kill drops what the killed one
// logged past its checkpoint.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>

#include "core/error.h"
#include "core/file.h"
#include "core/rng.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "models/registry.h"
#include "support/run_logs.h"
#include "tasks/run.h"
#include "train/metrics.h"
#include "train/tensorboard.h"
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


// tiny_config logging every step, with a checkpoint every 3 steps and no evaluation before step 100.
tasks::RunConfig stop_config(const std::string& out, int64_t steps) {
  tasks::RunConfig cfg = tiny_config(out, steps);
  cfg.training.log_every = 1;
  cfg.training.checkpoint_every = 3;
  cfg.training.eval_every = 100;
  return cfg;
}

// The task the config names, raising `sig` while its batch number `at` (from 0) is fetched: as if
// Ctrl-C came in the middle of that step.
class SignalingTask : public Task {
 public:
  SignalingTask(std::unique_ptr<Task> task, int sig, int64_t at) : task_(std::move(task)), sig_(sig), at_(at) {}
  std::string name() const override { return task_->name(); }
  int64_t batches_per_epoch() const override { return task_->batches_per_epoch(); }
  models::Batch train_batch(int64_t epoch, int64_t index) const override {
    if (fetched_++ == at_) std::raise(sig_);
    return task_->train_batch(epoch, index);
  }
  Metrics evaluate(const models::Model& model, int64_t max_batches) const override {
    return task_->evaluate(model, max_batches);
  }
  std::vector<std::string> shown_metrics() const override { return task_->shown_metrics(); }
  const data::Tokenizer& tokenizer() const override { return task_->tokenizer(); }
  std::string describe() const override { return task_->describe(); }

 private:
  std::unique_ptr<Task> task_;
  int sig_;
  int64_t at_;
  mutable int64_t fetched_ = 0;
};

std::map<std::string, std::vector<float>> weights(const std::string& safetensors_file) {
  std::map<std::string, std::vector<float>> w;
  for (auto& [name, t] : safetensors::load(safetensors_file).tensors) w[name] = t.to_vector<float>();
  return w;
}

TEST(Trainer, ASignalStopsAtTheStepBoundaryAndTheRunContinuesBitIdentically) {
  std::string straight = scratch("straight_8"), stopped = scratch("signalled");
  TrainResult full = train(stop_config(straight, 8), {.progress = false});
  ASSERT_EQ(full.steps, 8);

  // SIGTERM while step 5's batch is fetched: step 5 finishes, then the run stops. The model and
  // the task are made as tasks::run_training makes them.
  tasks::RunConfig cfg = stop_config(stopped, 8);
  SignalingTask task(tasks::make_task(cfg), SIGTERM, 4);
  Generator init(uint64_t(cfg.seed));
  auto model = models::create_model(cfg.model_for(task.tokenizer().vocab_size()), init);
  TrainResult first = ssm::train::train(*model, task, cfg.trainer(), {.progress = false, .stop_on_signals = true});
  EXPECT_TRUE(first.halted);
  EXPECT_EQ(first.signal, SIGTERM);
  EXPECT_EQ(first.steps, 5);
  EXPECT_EQ(first.checkpoint, stopped + "/checkpoints/step-00000005");
  EXPECT_TRUE(fs::exists(first.checkpoint + "/trainer_state.json"));
  // No evaluation ran yet, and still the directory loads, with this step's weights.
  EXPECT_TRUE(first.best.empty());
  io::LoadedModel m = io::load_model_dir(stopped);
  ASSERT_TRUE(m.tokenizer);
  EXPECT_EQ(weights(stopped + "/model.safetensors"), weights(first.checkpoint + "/model.safetensors"));
  // The stop step's training loss is logged, as at any log step.
  EXPECT_EQ(read_metrics(stopped + "/metrics.jsonl").back()["step"], 5);

  TrainResult second = train(stop_config(stopped, 8), {.resume = true, .progress = false});
  EXPECT_FALSE(second.halted);
  EXPECT_EQ(second.signal, 0);
  ASSERT_EQ(second.losses.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(second.losses[i], full.losses[5 + i]) << "step " << 6 + i;
  EXPECT_EQ(weights(stopped + "/checkpoints/step-00000008/model.safetensors"),
            weights(straight + "/checkpoints/step-00000008/model.safetensors"));
}

TEST(Trainer, AResumedRunDropsWhatTheKilledOneLoggedPastItsCheckpoint) {
  std::string d = scratch("killed_logs"), aside = scratch("killed_logs_checkpoints");
  // As a run killed after step 5 leaves its folder: logs up to step 5, the checkpoint of step 3.
  train(stop_config(d, 8), {.halt_after = 3, .progress = false});
  fs::copy(d + "/checkpoints", aside, fs::copy_options::recursive);
  train(stop_config(d, 8), {.resume = true, .halt_after = 2, .progress = false});
  fs::remove_all(d + "/checkpoints");
  fs::copy(aside, d + "/checkpoints", fs::copy_options::recursive);
  ASSERT_EQ(read_metrics(d + "/metrics.jsonl").back()["step"], 5);

  TrainResult r = train(stop_config(d, 8), {.resume = true, .halt_after = 1, .progress = false});
  ASSERT_EQ(r.steps, 4);
  testing::expect_each_step_logged_once(d, 4);
  // The new file starts by marking the restart, as PyTorch's purge_step does.
  std::vector<std::string> files = list_event_files(d);
  ASSERT_EQ(files.size(), 3u);
  std::vector<Event> events = read_events(files.back());
  ASSERT_GE(events.size(), 2u);
  EXPECT_TRUE(events[1].session_start);
  EXPECT_EQ(events[1].step, 4);

  train(stop_config(d, 8), {.resume = true, .progress = false});
  testing::expect_each_step_logged_once(d, 8);
}

}  // namespace
}  // namespace ssm::train
