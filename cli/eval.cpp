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
  std::string split = "auto";
  int64_t max_batches = 0;
  bool json = false;
};

void run_eval(const EvalArgs& a) {
  io::LoadedModel m = load_model_to_run(a.model_dir, "eval");
  m.model->to(resolve_device(a.device, "eval"));
  AutocastGuard autocast_guard(parse_precision(a.precision, m.model->device(), "eval"));
  train::Metrics metrics;
  std::string split, dataset;  // which split of which data set was evaluated
  if (!a.tokens.empty()) {
    need_next_token_model(m, "eval --tokens");
    SSM_CHECK(a.split == "auto", "eval: --split applies to --data, not to --tokens");
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
    // A data set with a test split (the image tasks) is scored on it unless --split val.
    if (a.split != "val") metrics = task->evaluate_test(*m.model, a.max_batches);
    SSM_CHECK(a.split != "test" || !metrics.empty(), "eval: ", cfg.dataset.name,
              " has no test split (only the image classification data sets keep one); use --split val");
    split = metrics.empty() ? "val" : "test";
    dataset = cfg.dataset.name;
    if (metrics.empty()) metrics = task->evaluate(*m.model, a.max_batches);
    metrics["loss"] = metrics.at(split + "_loss");
    metrics["tokens"] = metrics.at(split + "_tokens");
    if (metrics.count(split + "_accuracy")) metrics["accuracy"] = metrics.at(split + "_accuracy");
  }
  if (a.json) {
    nlohmann::json j(metrics);
    if (!split.empty()) j["split"] = split;
    std::cout << j.dump() << "\n";
  } else {
    if (!split.empty())
      std::cout << "split: " << split << " (" << (split == "test" ? "the held-out test set" : "validation")
                << " of " << dataset << ")\n";
    for (auto& [k, v] : metrics) std::cout << k << ": " << v << "\n";
  }
}

}  // namespace

void add_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "Evaluate a model directory");
  auto a = std::make_shared<EvalArgs>();
  cmd->add_option("--model-dir,-m", a->model_dir, "model directory (config.json + model.safetensors)")->required();
  cmd->add_option("--tokens", a->tokens, "token ids, one sequence per line: mean next-token cross-entropy");
  cmd->add_option("--data", a->data, "a dataset name (piglatin_small, piglatin_large, austen_char, smnist, ...): its validation split, or its test split where it has one (--split)");
  cmd->add_option("--config", a->config, "training config for --data (default: the model directory's train_config.yaml)");
  add_data_dir_option(cmd, &a->data_dir);
  cmd->add_option("--max-batches", a->max_batches, "evaluate only this many batches (0: all)")->transform(at_least(0));
  cmd->add_option("--split", a->split, "with --data: test (the held-out test set, for the data sets that "
                  "keep one: smnist, psmnist, sfmnist), val, or auto (test where there is one)")
      ->check(CLI::IsMember({"auto", "val", "test"}))
      ->capture_default_str();
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, or bf16 / fp16 products on a GPU")->capture_default_str();
  register_action(cmd, [a] { run_eval(*a); });
}

}  // namespace ssm::cli
