// A training run from its config: the task and the model the config names, handed to the
// trainer (train/trainer.h). What `ssm train`, `ssm demo` and `ssm eval --data` share.
#pragma once

#include <memory>

#include "tasks/run_config.h"
#include "train/trainer.h"

namespace ssm::tasks {

// The task cfg.dataset names, built with the run's batch size and seed. An ssm::Error when its
// data file is missing, naming where it looked and how to make the file.
std::unique_ptr<train::Task> make_task(const RunConfig& cfg);

// Builds the model on the CPU from cfg.seed (so the same weights on any device), writes the
// resolved config to <output_dir>/train_config.yaml, and trains. A run that fails before writing
// a model or a checkpoint removes the output folder it created.
train::TrainResult run_training(const RunConfig& cfg, const train::TrainOptions& opt = {});

}  // namespace ssm::tasks
