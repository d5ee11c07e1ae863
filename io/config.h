// Training configuration: a typed TrainConfig loaded from YAML and validated against one schema.
//
//   name: piglatin_small_mamba        # top level: name, seed, output_dir, device
//   model:     {preset, arch, d_model, d_state, d_conv, expand, n_layer, discretization, scan, ...}
//   training:  {max_steps | epochs, batch_size, grad_accum_steps, grad_clip, eval_every, ...}
//   optimizer: {name, lr, betas, eps, weight_decay, no_decay, param_groups}
//   scheduler: {name, warmup_steps, min_lr_ratio, plateau_*}
//   dataset:   {name, path, val_fraction, split_seed, seq_len}
//
// `describe_schema()` (ssm train --help-config) lists every key with its type, default, range
// and meaning. Values are resolved in this order, each overriding the one before:
//   schema defaults < model.preset and dataset.name defaults < the file < --set key=value
// Every error is an ssm::Error naming the dotted key, where it came from ("config.yaml:12:7"
// or "--set optimizer.lr=fast") and what is expected; an unknown key also gets the nearest
// allowed key, including the names other tools use (learning_rate -> lr, num_layers -> n_layer).
// Keys that mean something only for some values of another key (model.alpha for
// generalized_bilinear, scheduler.plateau_* for reduce_on_plateau, ...) are errors otherwise,
// except that a --set switching that other key drops the file's keys for the old value.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "ops/selective_scan.h"

namespace ssm::models {
struct MambaLMConfig;
}

namespace ssm::io {

enum class Arch { mamba };
enum class ModelPreset { none, small, medium, large };
enum class Metric { val_loss, val_accuracy };
enum class Precision { fp32, bf16, fp16 };
enum class OptimizerName { adamw };
enum class SchedulerName { constant, linear, cosine, reduce_on_plateau };
enum class DatasetName { piglatin_small, piglatin_large, austen_char, tokens_file };

// The names used in YAML (and in messages) for each enum value.
const char* name_of(Arch v);
const char* name_of(ModelPreset v);
const char* name_of(Metric v);
const char* name_of(Precision v);
const char* name_of(OptimizerName v);
const char* name_of(SchedulerName v);
const char* name_of(DatasetName v);

// The size presets of the topoformer-ssm README (seeds/000): a preset fills these model keys,
// and keys written in the file or given with --set override them.
struct ModelPresetInfo {
  ModelPreset preset;
  int64_t d_model, d_state, d_conv, expand, n_layer;
};
const std::vector<ModelPresetInfo>& model_presets();

// The data sets a config can name, with their files (under dataset.path) and default splits.
struct DatasetInfo {
  DatasetName name;
  const char* file;     // file name inside the data directory; "" when dataset.path is the file
  double val_fraction;  // the default validation share
  bool word_accuracy;   // evaluation reports whole-word accuracy (val_accuracy is defined)
  const char* doc;
};
const std::vector<DatasetInfo>& dataset_infos();
const DatasetInfo& dataset_info(DatasetName name);

struct ModelConfig {
  ModelPreset preset = ModelPreset::none;
  Arch arch = Arch::mamba;
  int64_t d_model = 768;
  int64_t d_state = 16;
  int64_t d_conv = 4;
  int64_t expand = 2;
  int64_t d_inner = 0;     // 0: expand * d_model, the only other allowed value
  int64_t n_layer = 24;
  int64_t dt_rank = 0;     // 0: auto, ceil(d_model / 16)
  int64_t vocab_size = 0;  // 0: the tokenizer's
  Discretization discretization = Discretization::zoh;
  double alpha = 0.5;      // generalized_bilinear only
  ScanAlgorithm scan = ScanAlgorithm::sequential;
  int64_t scan_chunk = 64;
  double dt_min = 1e-3, dt_max = 0.1, dt_init_floor = 1e-4, dt_scale = 1.0;
  double initializer_range = 0.02;
  double layer_norm_epsilon = 1e-5;
  bool residual_in_fp32 = true;
  bool use_bias = false;
  bool use_conv_bias = true;
  bool tie_embeddings = true;

  int64_t inner_dim() const { return expand * d_model; }
  bool operator==(const ModelConfig&) const = default;
};

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
  int64_t threads = 0;  // 0: all cores
  Precision precision = Precision::fp32;

  bool operator==(const TrainingConfig&) const = default;
};

struct ParamGroupConfig {
  std::string pattern;                  // glob over parameter names, see matches_pattern()
  double lr_scale = 1.0;                // the group's learning rate is optimizer.lr * lr_scale
  std::optional<double> weight_decay;   // absent: optimizer.weight_decay (and no_decay applies)

  bool operator==(const ParamGroupConfig&) const = default;
};

struct OptimizerConfig {
  OptimizerName name = OptimizerName::adamw;
  double lr = 1e-3;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;
  std::vector<std::string> no_decay = {"*.bias", "*norm*.weight", "*.A_log", "*.D"};
  std::vector<ParamGroupConfig> param_groups;

  bool operator==(const OptimizerConfig&) const = default;
};

struct SchedulerConfig {
  SchedulerName name = SchedulerName::constant;
  int64_t warmup_steps = 0;
  double min_lr_ratio = 0.0;
  double plateau_factor = 0.1;
  int64_t plateau_patience = 10;
  double plateau_threshold = 1e-4;

  bool operator==(const SchedulerConfig&) const = default;
};

struct DatasetConfig {
  DatasetName name = DatasetName::piglatin_small;
  std::string path;  // "": the data directory "data"; tokens_file: the file itself
  double val_fraction = 0.2;
  int64_t split_seed = 0;
  int64_t seq_len = 256;

  bool operator==(const DatasetConfig&) const = default;
};

struct TrainConfig {
  std::string name;        // resolved on load: the config file's stem when not given
  int64_t seed = 0;
  std::string output_dir;  // resolved on load: runs/<name> when not given
  Device device = parse_device("auto");  // the first GPU when one is visible, else the CPU
  ModelConfig model;
  TrainingConfig training;
  OptimizerConfig optimizer;
  SchedulerConfig scheduler;
  DatasetConfig dataset;

  bool operator==(const TrainConfig&) const = default;
};

// Loads `path`, applies `overrides` ("optimizer.lr=3e-3", the value parsed as YAML), validates.
TrainConfig load_config(const std::string& path, const std::vector<std::string>& overrides = {});

// The same from YAML text; `source` names it in messages (and gives the default run name).
TrainConfig parse_config(const std::string& yaml, const std::string& source,
                         const std::vector<std::string>& overrides = {});

// The cross-field checks of loading, for a config built or changed in code.
void validate(const TrainConfig& cfg);

// Every key that applies to `cfg`, in schema order: load(to_yaml(cfg)) == cfg for a loaded cfg.
std::string to_yaml(const TrainConfig& cfg);

// Writes to_yaml(cfg) atomically (temp file, fsync, rename).
void save_config(const std::string& path, const TrainConfig& cfg);

// Every section and key: type, default, range, meaning; then the presets and data sets.
std::string describe_schema();

// Glob match of a whole parameter name: '*' matches any run of characters (dots included),
// '?' one character; e.g. "*.bias", "*norm*.weight", "backbone.layers.0.*".
bool matches_pattern(const std::string& pattern, const std::string& name);

// The data file of `ds`: for tokens_file, ds.path; otherwise <path or "data">/<dataset file>,
// or ds.path itself when it names an existing regular file.
std::string dataset_file(const DatasetConfig& ds);

// The Hugging Face MambaConfig-style model config; `tokenizer_vocab` is the tokenizer's size,
// used when model.vocab_size is auto (an explicit vocab_size must be at least as large).
models::MambaLMConfig mamba_lm_config(const TrainConfig& cfg, int64_t tokenizer_vocab);

}  // namespace ssm::io
