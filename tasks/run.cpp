#include "tasks/run.h"

#include <filesystem>

#include "core/error.h"
#include "core/file.h"
#include "core/rng.h"
#include "models/registry.h"
#include "tasks/registry.h"
#include "train/checkpoint.h"

namespace ssm::tasks {

namespace fs = std::filesystem;

namespace {

std::string dataset_path(const RunConfig& cfg) { return cfg.dataset.options.value("path", std::string()); }

// Whether a run left something to load or resume: a model or a checkpoint.
bool holds_a_run(const std::string& dir) {
  return fs::exists(fs::path(dir) / "model.safetensors") || fs::exists(fs::path(dir) / "checkpoints" / "latest");
}

}  // namespace

std::unique_ptr<train::Task> make_task(const RunConfig& cfg) {
  const TaskInfo& info = task_info(cfg.dataset.name);
  std::string file = info.data_file(cfg.dataset.options);
  if (!fs::exists(file)) {
    std::string path = dataset_path(cfg);
    std::string where = path.empty() ? "the data folder, " + data_dir().origin
                                     : "dataset.path is '" + path + "'";
    SSM_FAIL("dataset ", info.name, ": '", file, "' does not exist (", where, "); ", info.build_hint,
             ", or --data-dir DIR (SSM_DATA=DIR) names a folder holding it");
  }
  return info.create(cfg.dataset.options,
                     {.batch_size = cfg.training.batch_size, .seed = uint64_t(cfg.seed)});
}

train::TrainResult run_training(const RunConfig& cfg, const train::TrainOptions& opt) {
  validate(cfg);
  std::unique_ptr<train::Task> task = make_task(cfg);
  Generator init_gen(uint64_t(cfg.seed));
  std::unique_ptr<models::Model> model =
      models::create_model(cfg.model_for(task->tokenizer().vocab_size()), init_gen);
  // Checked before anything is written: a refused run leaves no folder or config behind.
  train::check_output_dir(cfg.output_dir, opt.resume);
  const std::string created = create_folders(cfg.output_dir);
  try {
    // The model dir records where its data set is, so that ssm eval finds it from any folder:
    // "" stays the data folder shipped with ssm (wherever ssm is), a folder from SSM_DATA is
    // written out, and every other path is absolute already (tasks/run_config.h).
    RunConfig saved = cfg;
    if (dataset_path(cfg).empty())
      if (DataDir d = data_dir(); !d.shipped) saved.dataset.options["path"] = d.path;
    save_run_config(cfg.output_dir + "/train_config.yaml", saved);
    return train::train(*model, *task, cfg.trainer(), opt);
  } catch (...) {
    // A run that fails before it has written a model or a checkpoint leaves no folder behind.
    std::error_code ec;
    if (!created.empty() && !holds_a_run(cfg.output_dir)) fs::remove_all(created, ec);
    throw;
  }
}

}  // namespace ssm::tasks
