// ssm eval --model-dir D [--tokens FILE | --data NAME] [--data-dir DIR] [--json] [--device D] [--precision P]
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "io/model_dir.h"
#include "tasks/run.h"
#include "tasks/tokens_file/tokens_file.h"

namespace ssm::cli {

namespace {

struct EvalArgs {
  std::string model_dir, tokens, data, config, data_dir, device = "auto", precision = "fp32";
  int64_t max_batches = 0;
  bool json = false;
};

void run_eval(const EvalArgs& a) {
  io::LoadedModel m = load_model_to_run(a.model_dir, "eval");
  m.model->to(resolve_device(a.device, "eval"));
  AutocastGuard autocast_guard(parse_precision(a.precision, m.model->device(), "eval"));
  train::Metrics metrics;
  if (!a.tokens.empty()) {
    metrics = tasks::TokensFile(a.tokens).evaluate(*m.model, a.max_batches);
  } else {
    m.need_tokenizer("eval", "evaluate token ids with --tokens FILE instead");
    // The run's own config records its data set (train_config.yaml; tasks/run.cpp), so a model
    // dir evaluates from any folder.
    std::string cfg_path = !a.config.empty() ? a.config : a.model_dir + "/train_config.yaml";
    SSM_CHECK(!a.config.empty() || std::filesystem::exists(cfg_path), "eval: give --tokens FILE, or --data "
              "with a model directory written by ssm train (it has train_config.yaml), or --config FILE");
    std::vector<std::string> overrides;
    if (!a.data.empty()) overrides.push_back("dataset.name=" + a.data);
    tasks::RunConfig cfg = load_config(cfg_path, overrides, a.data_dir);
    auto task = tasks::make_task(cfg);
    SSM_CHECK(task->tokenizer().vocab_size() <= m.model->vocab_size(), "eval: the ", cfg.dataset.name,
              " tokenizer has ", task->tokenizer().vocab_size(), " tokens, the model only ",
              m.model->vocab_size());
    metrics = task->evaluate(*m.model, a.max_batches);
    metrics["loss"] = metrics.at("val_loss");
    metrics["tokens"] = metrics.at("val_tokens");
  }
  if (a.json) {
    nlohmann::json j(metrics);
    std::cout << j.dump() << "\n";
  } else {
    for (auto& [k, v] : metrics) std::cout << k << ": " << v << "\n";
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a model directory");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("--model-dir,-m", a->model_dir, "model directory (config.json + model.safetensors)")->required();
  cmd->add_option("--tokens", a->tokens, "token ids, one sequence per line: mean next-token cross-entropy");
  cmd->add_option("--data", a->data, "a dataset name (piglatin_small, piglatin_large, austen_char): its validation split");
  cmd->add_option("--config", a->config, "training config for --data (default: the model directory's train_config.yaml)");
  add_data_dir_option(cmd, &a->data_dir);
  cmd->add_option("--max-batches", a->max_batches, "evaluate only this many batches (0: all)")->transform(at_least(0));
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, or bf16 / fp16 products on a GPU")->capture_default_str();
  register_action(cmd, [a] { run_eval(*a); });
}

}  // namespace ssm::cli
