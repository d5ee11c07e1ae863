// The training loop: ssm train, driven by a validated TrainConfig.
//
// It builds the model and the task from the config, resumes from the last checkpoint when asked,
// and runs optimizer steps with gradient accumulation, clipping, the LR schedule, periodic
// evaluation, early stopping, checkpoints and logging (progress on the terminal, metrics.jsonl,
// TensorBoard events). The output directory is itself a loadable model directory holding the
// best model so far (by the early-stopping metric).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "io/config.h"
#include "train/task.h"

namespace ssm::train {

struct TrainOptions {
  bool resume = false;     // continue from <output_dir>/checkpoints if one exists
  int64_t halt_after = 0;  // stop this invocation after this many optimizer steps (0: no limit)
  bool progress = true;    // progress bar / lines on stderr
};

struct TrainResult {
  int64_t steps = 0;                                // total optimizer steps done
  std::vector<std::pair<int64_t, double>> losses;   // (step, training loss) of this invocation
  Metrics best;                                     // validation metrics of the best model
  Metrics last;                                     // the last evaluation's metrics
  bool early_stopped = false;
  bool resumed = false;
  double seconds = 0;
};

// The task the config's dataset names.
std::unique_ptr<Task> make_task(const io::TrainConfig& cfg);

TrainResult train(const io::TrainConfig& cfg, const TrainOptions& opt = {});

}  // namespace ssm::train
