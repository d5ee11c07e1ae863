// A run's configuration: what `ssm train` reads from YAML, every section owned by its layer.
//
//   name: piglatin_small_mamba        # top level: name, seed, output_dir, device
//   model:     {preset, architecture, mixer, d_model, n_layer, ...; the mixer's keys: d_state, ...}
//   training:  {max_steps | epochs, batch_size, grad_accum_steps, grad_clip, eval_every, ...}
//   optimizer: {name, lr, betas, eps, weight_decay, no_decay, param_groups}
//   scheduler: {name, warmup_steps, min_lr_ratio, plateau_*}
//   dataset:   {name; the data set's keys: path, val_fraction, split_seed | seq_len}
//
// The model section's keys are the architecture's (models/lm.cpp) and the mixer's (nn/mamba.cpp);
// the dataset section's are the task's (tasks/*/task.cpp); training, optimizer and scheduler are
// train/'s. Values are resolved in this order, each overriding the one before:
//   defaults < model.preset < the file < --set key=value
// Errors name the dotted key, where it came from and what is expected (io/schema.h); a key of
// another mixer or data set is an error naming when it applies, unless a --set switched the
// choosing key (then the file's settings for the old choice are dropped).
#pragma once

#include <string>
#include <vector>

#include "core/device.h"
#include "core/schema.h"
#include "models/model.h"
#include "train/trainer.h"

namespace ssm::tasks {

using schema::json;

// The dataset section: which task, and the values of its keys.
struct DatasetConfig {
  std::string name = "piglatin_small";
  json options;  // the task's dataset.* values by key name (its defaults when not given)

  DatasetConfig();
  bool operator==(const DatasetConfig&) const = default;
};

struct RunConfig {
  std::string name;        // resolved on load: the config file's stem when not given
  int64_t seed = 0;
  std::string output_dir;  // resolved on load: runs/<name> when not given
  Device device = parse_device("auto");  // the first GPU when one is visible, else the CPU
  models::ModelConfig model;  // every option of the architecture and the mixer
  train::TrainingConfig training;
  train::OptimizerConfig optimizer;
  train::SchedulerConfig scheduler;
  DatasetConfig dataset;

  RunConfig();
  bool operator==(const RunConfig&) const = default;

  // The trainer's settings.
  train::TrainerConfig trainer() const;
  // The model to build: vocab_size auto becomes `tokenizer_vocab` (an explicit vocab_size must
  // be at least as large).
  models::ModelConfig model_for(int64_t tokenizer_vocab) const;
};

// Loads `path`, applies `overrides` ("optimizer.lr=3e-3", the value parsed as YAML), validates.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from YAML text; `source` names it in messages (and gives the default run name).
RunConfig parse_run_config(const std::string& yaml, const std::string& source,
                           const std::vector<std::string>& overrides = {});

// Every key's range and the cross-field checks, for a config built or changed in code.
void validate(const RunConfig& cfg);

// Every key that applies, in schema order: parse(to_yaml(cfg)) == cfg for a loaded cfg.
std::string to_yaml(const RunConfig& cfg);

// Writes to_yaml(cfg) atomically (temp file, fsync, rename).
void save_run_config(const std::string& path, const RunConfig& cfg);

// `ssm train --help-config`: every section and key (every mixer's and data set's too) with its
// type, default, range and meaning; then the presets, architectures, mixers and data sets.
std::string describe_run_config();

}  // namespace ssm::tasks
