// The task registry: every data set a config can name (dataset.name), with what it needs to train
// and evaluate a model on it. tasks/registry.cpp lists each task once.
//
// A task declares its dataset.* keys (and their defaults), builds its train::Task (batches,
// tokenizer, metrics, evaluation), says where its data file lives, how `ssm data build` makes it,
// and what `ssm demo` shows after training. Adding a task: tasks/<name>/ (its data set, its
// train::Task, its registry entry) and one line in tasks/registry.cpp; docs/architecture.md has
// the recipe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "core/schema.h"
#include "models/model.h"
#include "train/task.h"

namespace ssm::tasks {

using schema::json;

// The data folder: where the data sets are when dataset.path is "", and where `ssm data build`
// writes them. $SSM_DATA when set, else the data/ shipped with ssm (core/shipped.h), so a config
// names its data set and works from any folder.
struct DataDir {
  std::string path;
  std::string origin;  // "set by SSM_DATA", or "shipped with ssm: installed beside /usr/local/bin/ssm"
  bool shipped = false;
};
DataDir data_dir();

// What a task is built with besides its own dataset.* values.
struct TaskContext {
  int64_t batch_size = 32;
  uint64_t seed = 0;  // data order (shuffles, sampled windows)
};

struct TaskInfo {
  std::string name;  // dataset.name
  std::string doc;   // one line for --help-config
  // Its dataset.* keys (besides name) and their defaults.
  std::function<const std::vector<schema::Key>&()> keys;
  std::function<json()> defaults;
  // The validation metrics its evaluation reports besides val_loss and val_tokens.
  std::vector<std::string> metrics;
  // Classes of a sequence-classification task (model.architecture classifier, with at least
  // this model.num_labels); 0 for a task that predicts tokens (model.architecture lm).
  int64_t num_labels = 0;
  // The data file `options` point to, and how to make it when it is missing ("`ssm data build`
  // writes it").
  std::function<std::string(const json& options)> data_file;
  std::string build_hint;
  // `ssm data show`: what the data file holds (counts, examples, split sizes for ctx.seed and
  // batches of ctx.batch_size).
  std::function<void(const std::string& file, const TaskContext& ctx, std::ostream& out)> show;
  // Cross-field problems of the run for this task (keys as dotted paths), given the model's
  // vocab_size option (0: auto, the tokenizer's).
  std::function<schema::Failures(const json& options, int64_t vocab_size)> check;
  std::function<std::unique_ptr<train::Task>(const json& options, const TaskContext&)> create;
  // What `ssm demo` shows after training (null: no demo): the trained model on `inputs` (words to
  // translate, a prompt; empty: the task's samples), printed to `out`.
  std::function<void(const train::Task& task, const models::Model& model,
                     const std::vector<std::string>& inputs, std::ostream& out)>
      demo;
};

const std::vector<TaskInfo>& task_infos();
// The task called `name`; an ssm::Error naming the registered ones (and the nearest) otherwise.
const TaskInfo& task_info(const std::string& name);
std::vector<std::string> task_names();

// A data builder for `ssm data build`: writes its files into `out_dir` from the raw packages in
// `raw_dir` (data/fetch.h), logging what it wrote.
struct DataBuilder {
  std::string name;
  std::function<void(const std::string& raw_dir, const std::string& out_dir, std::ostream& log)> build;
};
const std::vector<DataBuilder>& data_builders();

// The meaning of a task's dataset.path key, for --help-config.
inline constexpr const char* kDataPathDoc =
    "the folder holding the data set (\"\": the data folder, $SSM_DATA or the one shipped with "
    "ssm), or its file; a relative path is from the config file's folder (from the working "
    "folder when given with --set)";

// The file a task reads: `name` in the folder options.path names ("": the data folder), or
// options.path itself when that is a regular file.
std::string data_file_in(const json& options, const std::string& name);

}  // namespace ssm::tasks
