// Training checkpoints: everything a run needs to continue bit-identically.
//
//   <dir>/step-00000123/model.safetensors      parameters (Hugging Face names)
//                       optimizer.safetensors  AdamW moments: exp_avg.<name>, exp_avg_sq.<name>
//                       trainer_state.json     step, data position, RNG, schedule, early stopping
//   <dir>/latest                               the name of the newest complete checkpoint
// A checkpoint directory is written under a temporary name, fsynced and renamed; `latest` is
// replaced atomically only after that. A crash or kill at any moment therefore leaves the last
// good checkpoint intact and pointed to; older checkpoints are removed after `latest` moves.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "nn/module.h"
#include "train/adamw.h"

namespace ssm::train {

struct TrainerState {
  int64_t step = 0;         // optimizer steps done
  int64_t epoch = 0;        // data position: the next batch is (epoch, batch)
  int64_t batch = 0;
  double best_metric = 0;   // lower is better (accuracies are stored negated)
  bool has_best = false;
  int64_t evals_without_improvement = 0;
  uint64_t rng_seed = 0, rng_offset = 0;  // the default generator
  nlohmann::json schedule;
  int64_t tokens_seen = 0;
  double elapsed_seconds = 0;  // training time so far, across resumes

  nlohmann::json to_json() const;
  static TrainerState from_json(const nlohmann::json& j);
};

// Returns the checkpoint's folder, <dir>/step-NNNNNNNN.
std::string save_checkpoint(const std::string& dir, const nn::Module& model, const AdamW& opt,
                            const TrainerState& state);

// Whether a run into `out_dir` may start: with `resume` only where a checkpoint exists to
// continue, without it only where none would be overwritten; an ssm::Error naming the folder and
// the flag otherwise. Writes nothing.
void check_output_dir(const std::string& out_dir, bool resume);

// Loads the checkpoint `latest` points to into `model` and `opt`; nullopt when there is none.
// A corrupt checkpoint is an error naming the file (nothing is loaded then).
std::optional<TrainerState> load_latest_checkpoint(const std::string& dir, nn::Module& model,
                                                   AdamW& opt);

}  // namespace ssm::train
