// ssm demo: trains a config (configs/piglatin_small_mamba.yaml by default, for fewer epochs),
// printing its loss and validation metrics as they move, then shows the trained model at work
// through its task's demo output (Pig Latin: sample words translated and checked against the
// rule; a byte LM: text sampled from a prompt).
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/file.h"
#include "core/parallel.h"
#include "io/model_dir.h"
#include "tasks/registry.h"
#include "tasks/run.h"

namespace ssm::cli {

namespace {

namespace fs = std::filesystem;

// Written into the demo's output directory so that a later demo may replace it, and nothing else.
constexpr const char* kDemoMarker = ".ssm-demo";

struct DemoArgs {
  std::string config = "configs/piglatin_small_mamba.yaml";
  std::string output_dir = "runs/demo";
  std::string data_dir;
  int64_t epochs = 40;
  std::vector<std::string> sets;
  std::vector<std::string> words;
};

// The demo starts from scratch each time; it only removes a directory an earlier demo made.
// Returns the topmost folder it created (core/file.h create_folders).
std::string prepare_output_dir(const std::string& dir) {
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    SSM_CHECK(fs::exists(fs::path(dir) / kDemoMarker), "demo: '", dir,
              "' exists and was not written by ssm demo; choose another --output-dir");
    fs::remove_all(dir);
  }
  std::string created = create_folders(dir);
  write_file_atomic((fs::path(dir) / kDemoMarker).string(), "written by ssm demo\n");
  return created.empty() ? dir : created;
}

void run_demo(const DemoArgs& a) {
  std::vector<std::string> overrides = a.sets;
  overrides.push_back("training.epochs=" + std::to_string(a.epochs));
  std::vector<std::string> with_output = overrides;
  with_output.push_back("output_dir=" + a.output_dir);
  tasks::RunConfig cfg = load_config(a.config, with_output, a.data_dir);
  const tasks::TaskInfo& info = tasks::task_info(cfg.dataset.name);
  SSM_CHECK(info.demo, "demo: data set ", info.name, " has no demo output; train it with ssm train");
  const std::string created = prepare_output_dir(cfg.output_dir);

  std::string where = cfg.device.is_cpu() ? "the CPU with " + std::to_string(num_threads()) +
                                              (num_threads() == 1 ? " thread" : " threads")
                                          : "the GPU (" + cfg.device.str() + ")";
  const schema::json& o = cfg.model.options;
  std::printf("ssm demo: a %lld-layer %s LM (d_model %lld) trains on %s\n"
              "  (%s)\n  on %s: %lld epochs, validation after each epoch\n\n",
              (long long)o.value("n_layer", int64_t(0)), cfg.model.mixer.c_str(),
              (long long)o.value("d_model", int64_t(0)), info.name.c_str(), info.doc.c_str(),
              where.c_str(), (long long)a.epochs);
  std::fflush(stdout);
  train::TrainResult r;
  try {
    r = tasks::run_training(cfg, {.progress = true, .stop_on_signals = true});
  } catch (...) {
    // A demo that stops before it has a model leaves no folder behind.
    std::error_code ec;
    if (!fs::exists(fs::path(cfg.output_dir) / "model.safetensors")) fs::remove_all(created, ec);
    throw;
  }
  // Stopped by Ctrl-C: its training continues with ssm train (this ends the process).
  if (r.halted) report_halted_run(r, resume_command(a.config, overrides, cfg.output_dir, a.data_dir));
  std::printf("\ntrained %lld steps in %.1f s; best validation", (long long)r.steps, r.seconds);
  for (const std::string& k : info.metrics)
    if (r.best.count(k)) std::printf(" %s %.4f", k.c_str(), r.best.at(k));
  std::printf(" val_loss %.4f\n\n", r.best.count("val_loss") ? r.best.at("val_loss") : 0.0);
  std::fflush(stdout);

  io::LoadedModel m = io::load_model_dir(cfg.output_dir);
  std::unique_ptr<train::Task> task = tasks::make_task(cfg);
  std::ostringstream out;
  info.demo(*task, *m.model, a.words, out);
  std::fputs(out.str().c_str(), stdout);
  std::printf("\nThe model dir is %s; see the README for ssm translate, generate and eval on it,\n"
              "and for the full runs of the shipped configs.\n",
              cfg.output_dir.c_str());
}

}  // namespace

void add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Train a small model for a minute or two (Pig-Latin Mamba by default), then show it at work");
  auto a = std::make_shared<DemoArgs>();
  cmd->add_option("--config,-c", a->config, "a training config whose data set has a demo output (a path, or a config shipped with ssm)")->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "passes over the training words")->capture_default_str()->transform(at_least(1));
  cmd->add_option("--output-dir,-o", a->output_dir, "the demo's model dir (replaced on each run)")->capture_default_str();
  cmd->add_option("--set", a->sets, "override a config key, as in ssm train (repeatable)");
  add_data_dir_option(cmd, &a->data_dir);
  cmd->add_option("words", a->words, "what to show the model at the end: words to translate, or prompts (default: the task's samples)");
  register_action(cmd, [a] { run_demo(*a); });
}

}  // namespace ssm::cli
