// Sub-command registration: each add_* defines a CLI11 sub-command and its callback.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "io/model_dir.h"
#include "train/trainer.h"
#include "tasks/run_config.h"

namespace ssm::cli {

inline constexpr const char* kVersion = "ssm 0.1.0";

void add_inspect(CLI::App& app);
void add_demo(CLI::App& app);
void add_train(CLI::App& app);
void add_eval(CLI::App& app);
void add_translate(CLI::App& app);
void add_generate(CLI::App& app);
void add_info(CLI::App& app);
void add_data(CLI::App& app);

// --threads N on every sub-command (main adds it once the commands exist). apply_threads_option
// checks N and sets the thread pool before the command runs; threads_option() is N when given.
void add_threads_option(CLI::App& app);
void apply_threads_option();
std::optional<int> threads_option();

// A config given to -c: the path as given (from the working folder), else the same path under
// the folder shipped with ssm (core/shipped.h), so `-c configs/x.yaml`, `-c x.yaml` and `-c x`
// name a shipped config from any folder. An ssm::Error naming every place looked at otherwise.
std::string find_config(const std::string& given);

// --data-dir DIR on the commands that read data sets.
void add_data_dir_option(CLI::App* cmd, std::string* dir);

// A run config as the commands read it: `config` found by find_config, then the --set
// `overrides`, --data-dir (dataset.path=DIR made absolute, so train_config.yaml records it; an
// ssm::Error when DIR is not a folder; "" when not given) and --threads (training.threads).
tasks::RunConfig load_config(const std::string& config, std::vector<std::string> overrides,
                             const std::string& data_dir);

// Stores what a sub-command does; main runs it after parsing, so ssm::Error reaches main.
void register_action(CLI::App* cmd, std::function<void()> action);

// --device: "auto", "cpu", "cuda", "cuda:N", checked to be usable here.
Device resolve_device(const std::string& device, const char* command);
// --precision: fp32 (no autocast), bf16 or fp16 (autocast dtype; needs a CUDA device).
std::optional<DType> parse_precision(const std::string& precision, Device device, const char* command);

// The `ssm train` command line that continues the run in `output_dir`: its config, its overrides
// (as --set key=value) and --resume, each word shell-quoted where it needs it.
std::string resume_command(const std::string& config, const std::vector<std::string>& overrides,
                           const std::string& output_dir, const std::string& data_dir = "");

// For a run that stopped before its end (--halt-after, SIGINT, SIGTERM): says on stderr where its
// checkpoint is and how to continue it. After a signal it then ends the process by that signal
// (train/interrupt.h): a shell reports exit status 130 for SIGINT, 143 for SIGTERM.
void report_halted_run(const train::TrainResult& r, const std::string& resume);

// The model dir that eval, generate and translate run: loaded, and its weights checked to be
// finite (NaN weights are an error naming the tensor, not a loss of nan).
io::LoadedModel load_model_to_run(const std::string& dir, const char* command);

// An ssm::Error for a model that does not predict next tokens (a sequence classifier), which
// `command` (generate, translate, eval --tokens) cannot run.
void need_next_token_model(const io::LoadedModel& m, const char* command);

// Runs the callback of the sub-command that was parsed (callbacks are stored, not run by CLI11,
// so errors propagate to main as exceptions).
void run_selected(CLI::App& app);

}  // namespace ssm::cli
