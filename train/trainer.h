// The training loop: ssm train, over any Model and Task, driven by typed config sections.
//
// It moves the model to the device, resumes from the last checkpoint when asked, and runs
// optimizer steps with gradient accumulation, clipping, the LR schedule, periodic evaluation,
// early stopping, checkpoints and logging (progress on the terminal, metrics.jsonl, TensorBoard
// events). The output directory is itself a loadable model directory holding the best model so
// far (by the early-stopping metric), or, for a run stopped before its first evaluation, the
// weights it stopped at. A resumed run drops what the interrupted one logged past its checkpoint
// (metrics.jsonl lines, TensorBoard events), since it logs those steps again. Configs are parsed
// and checked by the caller (tasks/run_config.h); each section is declared beside its struct.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/device.h"
#include "core/schema.h"
#include "models/model.h"
#include "train/adamw.h"
#include "train/scheduler.h"
#include "train/task.h"

namespace ssm::train {

enum class Metric { val_loss, val_accuracy };
enum class Precision { fp32, bf16, fp16 };
const char* metric_name(Metric m);
const char* precision_name(Precision p);

// The training section of a config.
struct TrainingConfig {
  int64_t max_steps = 0;  // training stops at whichever of max_steps and epochs comes first;
  int64_t epochs = 0;     // 0 leaves that limit off (at least one must be set)
  int64_t batch_size = 32;
  int64_t grad_accum_steps = 1;
  double grad_clip = 1.0;  // global L2 norm; 0: off
  int64_t eval_every = 0;  // optimizer steps; 0: at the end of every epoch
  int64_t eval_batches = 0;  // 0: the whole validation set
  int64_t log_every = 10;
  int64_t checkpoint_every = 0;  // 0: at every evaluation
  int64_t early_stopping_patience = 0;  // evaluations without improvement; 0: off
  Metric early_stopping_metric = Metric::val_loss;
  bool gradient_checkpointing = false;
  int64_t threads = 0;  // 0: leave the thread pool's size as it is
  Precision precision = Precision::fp32;

  bool operator==(const TrainingConfig&) const = default;
  static const schema::Section<TrainingConfig>& section();
};

// Everything the trainer needs besides the model and the task.
struct TrainerConfig {
  std::string name;        // the run's name, for logs
  int64_t seed = 0;        // data order, dropout
  std::string output_dir;  // the run directory (a model dir, with checkpoints/ inside)
  Device device = Device::cpu();
  TrainingConfig training;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
};

struct TrainOptions {
  bool resume = false;     // continue from <output_dir>/checkpoints if one exists
  int64_t halt_after = 0;  // stop this invocation after this many optimizer steps (0: no limit)
  bool progress = true;    // progress bar / lines on stderr
  // SIGINT and SIGTERM stop the run at the next step boundary (train/interrupt.h); for programs
  // that own the process, like the ssm command.
  bool stop_on_signals = false;
};

struct TrainResult {
  int64_t steps = 0;                                // total optimizer steps done
  std::vector<std::pair<int64_t, double>> losses;   // (step, training loss) of this invocation
  Metrics best;                                     // validation metrics of the best model
  Metrics last;                                     // the last evaluation's metrics
  bool early_stopped = false;
  bool resumed = false;
  // Stopped before the end by TrainOptions::halt_after or a signal, with a checkpoint written and
  // the output directory loadable (the best model so far, or this step's weights before any
  // evaluation).
  bool halted = false;
  int signal = 0;          // the signal (SIGINT, SIGTERM) that stopped the run; 0: none
  std::string checkpoint;  // the last checkpoint this invocation wrote ("": none)
  double seconds = 0;
};

// Trains `model` (built on the CPU; moved to cfg.device here) on `task`.
TrainResult train(models::Model& model, const Task& task, const TrainerConfig& cfg,
                  const TrainOptions& opt = {});

}  // namespace ssm::train
