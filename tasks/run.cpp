#include "tasks/run.h"

#include <filesystem>

#include "core/error.h"
#include "core/rng.h"
#include "models/registry.h"
#include "tasks/registry.h"
#include "train/checkpoint.h"

namespace ssm::tasks {

std::unique_ptr<train::Task> make_task(const RunConfig& cfg) {
  const TaskInfo& info = task_info(cfg.dataset.name);
  std::string file = info.data_file(cfg.dataset.options);
  SSM_CHECK(std::filesystem::exists(file), "dataset ", info.name, ": '", file, "' does not exist",
            info.build_hint.empty() ? "" : " (" + info.build_hint + ")");
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
  std::error_code ec;
  std::filesystem::create_directories(cfg.output_dir, ec);
  SSM_CHECK(!ec, "cannot create output directory '", cfg.output_dir, "': ", ec.message());
  save_run_config(cfg.output_dir + "/train_config.yaml", cfg);
  return train::train(*model, *task, cfg.trainer(), opt);
}

}  // namespace ssm::tasks
