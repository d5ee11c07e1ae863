// ssm train --config FILE [--set key=value]... [--output-dir D] [--seed S] [--device D] [--resume]
// [--halt-after N]. Ctrl-C or SIGTERM stops at the next step boundary with a checkpoint; the exit
// status is then the signal's (130, 143), see cli/commands.h.
#include <cstdio>
#include <iostream>
#include <optional>

#include "cli/checks.h"
#include "cli/commands.h"
#include "tasks/run.h"

namespace ssm::cli {

namespace {

struct TrainArgs {
  std::string config;
  std::vector<std::string> sets;
  std::string output_dir, device, data_dir;
  std::optional<int64_t> seed;  // absent: the config's
  bool resume = false;
  int64_t halt_after = 0;
  bool quiet = false;
  bool help_config = false;
};

void run_train(const TrainArgs& a) {
  if (a.help_config) {
    std::cout << tasks::describe_run_config();
    return;
  }
  SSM_CHECK(!a.config.empty(), "train: --config FILE is required (see configs/; --help-config lists every key)");
  std::vector<std::string> overrides = a.sets;
  if (a.seed) overrides.push_back("seed=" + std::to_string(*a.seed));
  if (!a.device.empty()) overrides.push_back("device=" + a.device);
  std::vector<std::string> with_output = overrides;
  if (!a.output_dir.empty()) with_output.push_back("output_dir=" + a.output_dir);
  tasks::RunConfig cfg = load_config(a.config, with_output, a.data_dir);
  train::TrainResult r = tasks::run_training(
      cfg, {.resume = a.resume, .halt_after = a.halt_after, .progress = !a.quiet, .stop_on_signals = true});
  std::printf("%s %lld steps in %.1f s%s\n", r.early_stopped ? "stopped early after" : "trained",
              (long long)r.steps, r.seconds, r.resumed ? " (resumed)" : "");
  for (auto& [k, v] : r.best) std::printf("best %s: %.6g\n", k.c_str(), v);
  std::printf("model directory: %s\n", cfg.output_dir.c_str());
  std::fflush(stdout);
  if (r.halted) report_halted_run(r, resume_command(a.config, overrides, cfg.output_dir, a.data_dir));
}

}  // namespace

void add_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train a model from a YAML config");
  auto a = std::make_shared<TrainArgs>();
  cmd->add_option("--config,-c", a->config,
                  "YAML config: a path, or the name of a config shipped with ssm (configs/)");
  cmd->add_option("--set", a->sets, "override a config key: --set optimizer.lr=1e-3 (repeatable)");
  cmd->add_option("--output-dir,-o", a->output_dir, "where the model, checkpoints and logs go (default runs/<name>)");
  cmd->add_option_function<int64_t>("--seed", [a](const int64_t& seed) { a->seed = seed; },
                                    "the run's seed (overrides the config's)")
      ->transform(at_least(0));
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (overrides the config's device; default auto: the GPU when one is visible)");
  add_data_dir_option(cmd, &a->data_dir);
  cmd->add_flag("--resume", a->resume, "continue from the output directory's last checkpoint");
  cmd->add_option("--halt-after", a->halt_after, "stop after this many steps in this invocation (a checkpoint is written; --resume continues)")
      ->transform(at_least(0));
  cmd->add_flag("--quiet,-q", a->quiet, "no progress output");
  cmd->add_flag("--help-config", a->help_config, "list every config key with its type, default and range");
  cmd->footer(
      "Ctrl-C (or SIGTERM) stops at the end of the current step, writes a checkpoint and prints the\n"
      "command that continues the run (--resume); the exit status is then 130 (143 for SIGTERM), as\n"
      "for any program a signal stops. A second Ctrl-C stops at once; the last checkpoint stays intact.");
  register_action(cmd, [a] { run_train(*a); });
}

}  // namespace ssm::cli
