// A run stopped early: by a signal at a step boundary (a checkpoint, a loadable model directory,
// a bit-identical continuation), and by a kill after its checkpoint (the resumed run drops what
// the killed one logged past it: no step twice in metrics.jsonl or in the TensorBoard files).
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "core/rng.h"
#include "io/model_dir.h"
#include "io/safetensors.h"
#include "models/registry.h"
#include "tasks/run.h"
#include "train/metrics.h"
#include "train/tensorboard.h"
#include "train/trainer.h"

namespace ssm::train {
namespace {

namespace fs = std::filesystem;

std::string scratch(const std::string& name) {
  std::string dir = (fs::temp_directory_path() / ("ssm_trainer_stop_test_" + name)).string();
  fs::remove_all(dir);
  return dir;
}

tasks::RunConfig tiny_config(const std::string& out, int64_t steps) {
  std::string yaml = R"(
name: tiny
seed: 5
model: {d_model: 16, d_state: 4, d_conv: 3, expand: 2, n_layer: 1}
training: {max_steps: )" + std::to_string(steps) + R"(, batch_size: 16, eval_every: 100, eval_batches: 1,
           log_every: 1, checkpoint_every: 3, grad_clip: 1.0, threads: 2}
optimizer: {lr: 0.003}
scheduler: {name: cosine, warmup_steps: 1}
dataset: {name: piglatin_small, path: )" + std::string(SSM_SOURCE_DIR) + R"(/data}
)";
  return tasks::parse_run_config(yaml, "tiny.yaml", {"output_dir=" + out});
}

// The task the config names, that raises `sig` while its batch number `at` (from 0) is fetched:
// as if Ctrl-C came in the middle of that step.
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

// Trains cfg's model as tasks::run_training does, on the task that raises `sig` at batch `at`.
TrainResult train_until_signal(const tasks::RunConfig& cfg, int sig, int64_t at) {
  SignalingTask task(tasks::make_task(cfg), sig, at);
  Generator init(uint64_t(cfg.seed));
  auto model = models::create_model(cfg.model_for(task.tokenizer().vocab_size()), init);
  return train(*model, task, cfg.trainer(), {.progress = false, .stop_on_signals = true});
}

std::map<std::string, std::vector<float>> weights(const std::string& checkpoint) {
  std::map<std::string, std::vector<float>> w;
  for (auto& [name, t] : safetensors::load(checkpoint + "/model.safetensors").tensors)
    w[name] = t.to_vector<float>();
  return w;
}

TEST(TrainerStop, ASignalStopsAtTheStepBoundaryAndTheRunContinuesBitIdentically) {
  std::string straight = scratch("straight"), stopped = scratch("stopped");
  TrainResult full = tasks::run_training(tiny_config(straight, 8), {.progress = false});
  ASSERT_EQ(full.steps, 8);

  // SIGTERM while step 5's batch is fetched: step 5 finishes, then the run stops.
  TrainResult first = train_until_signal(tiny_config(stopped, 8), SIGTERM, 4);
  EXPECT_TRUE(first.halted);
  EXPECT_EQ(first.signal, SIGTERM);
  EXPECT_EQ(first.steps, 5);
  EXPECT_EQ(first.checkpoint, stopped + "/checkpoints/step-00000005");
  EXPECT_TRUE(fs::exists(first.checkpoint + "/trainer_state.json"));
  // No evaluation ran yet, and still the directory loads, with this step's weights.
  EXPECT_TRUE(first.best.empty());
  io::LoadedModel m = io::load_model_dir(stopped);
  ASSERT_TRUE(m.tokenizer);
  std::map<std::string, std::vector<float>> saved;
  for (auto& [name, t] : safetensors::load(stopped + "/model.safetensors").tensors) saved[name] = t.to_vector<float>();
  EXPECT_EQ(saved, weights(first.checkpoint));
  // The stop step's training loss is logged, as at any log step.
  EXPECT_EQ(read_metrics(stopped + "/metrics.jsonl").back()["step"], 5);

  TrainResult second = tasks::run_training(tiny_config(stopped, 8), {.resume = true, .progress = false});
  EXPECT_FALSE(second.halted);
  EXPECT_EQ(second.signal, 0);
  ASSERT_EQ(second.losses.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(second.losses[i], full.losses[5 + i]) << "step " << 6 + i;
  EXPECT_EQ(weights(stopped + "/checkpoints/step-00000008"), weights(straight + "/checkpoints/step-00000008"));
}

// The steps of every train/val line of metrics.jsonl, and of every TensorBoard point, each of which
// must appear once.
void expect_each_step_once(const std::string& dir, int64_t last_step) {
  std::set<std::pair<std::string, int64_t>> lines;
  for (const auto& j : read_metrics(dir + "/metrics.jsonl")) {
    auto key = std::make_pair(j["split"].get<std::string>(), j["step"].get<int64_t>());
    EXPECT_TRUE(lines.insert(key).second) << "metrics.jsonl: " << key.first << " step " << key.second << " twice";
    EXPECT_LE(key.second, last_step);
  }
  std::set<std::pair<std::string, int64_t>> points;
  for (const std::string& file : list_event_files(dir))
    for (const ScalarPoint& p : read_scalars(file)) {  // every record's CRCs are checked on the way
      EXPECT_TRUE(points.insert({p.tag, p.step}).second) << file << ": " << p.tag << " step " << p.step << " twice";
      EXPECT_LE(p.step, last_step);
    }
  for (int64_t s = 1; s <= last_step; ++s) {
    EXPECT_TRUE(lines.count({"train", s})) << "metrics.jsonl lacks step " << s;
    EXPECT_TRUE(points.count({"train/loss", s})) << "TensorBoard lacks train/loss at step " << s;
  }
}

TEST(TrainerStop, AResumedRunDropsWhatTheKilledOneLoggedPastItsCheckpoint) {
  std::string d = scratch("killed"), aside = scratch("killed_checkpoints");
  // As a run killed after step 5 leaves its folder: logs up to step 5, the checkpoint of step 3.
  tasks::run_training(tiny_config(d, 8), {.halt_after = 3, .progress = false});
  fs::copy(d + "/checkpoints", aside, fs::copy_options::recursive);
  tasks::run_training(tiny_config(d, 8), {.resume = true, .halt_after = 2, .progress = false});
  fs::remove_all(d + "/checkpoints");
  fs::copy(aside, d + "/checkpoints", fs::copy_options::recursive);
  ASSERT_EQ(read_metrics(d + "/metrics.jsonl").back()["step"], 5);

  TrainResult r = tasks::run_training(tiny_config(d, 8), {.resume = true, .halt_after = 1, .progress = false});
  ASSERT_EQ(r.steps, 4);
  expect_each_step_once(d, 4);
  // The new file starts by marking the restart, as PyTorch's purge_step does.
  std::vector<std::string> files = list_event_files(d);
  ASSERT_EQ(files.size(), 3u);
  std::vector<Event> events = read_events(files.back());
  ASSERT_GE(events.size(), 2u);
  EXPECT_TRUE(events[1].session_start);
  EXPECT_EQ(events[1].step, 4);

  tasks::run_training(tiny_config(d, 8), {.resume = true, .progress = false});
  expect_each_step_once(d, 8);
}

}  // namespace
}  // namespace ssm::train
