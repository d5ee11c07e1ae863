// ssm eval --model-dir D [--tokens FILE | --data NAME] [--json] [--device D] [--precision P]
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "io/config.h"
#include "io/model_dir.h"
#include "ops/cross_entropy.h"
#include "train/trainer.h"

namespace ssm::cli {

namespace {

struct EvalArgs {
  std::string model_dir, tokens, data, config, device = "auto", precision = "fp32";
  int64_t max_batches = 0;
  bool json = false;
};

// Token ids, one sequence per line, whitespace-separated; errors name the line and position.
std::vector<std::vector<int64_t>> read_token_lines(const std::string& path, int64_t vocab) {
  std::ifstream in(path);
  SSM_CHECK(in.good(), "eval: cannot open --tokens file '", path, "'");
  std::vector<std::vector<int64_t>> seqs;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    std::istringstream ls(line);
    std::vector<int64_t> ids;
    std::string tok;
    while (ls >> tok) {
      size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(tok, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      SSM_CHECK(used == tok.size(), path, ":", lineno, ": '", tok, "' is not a token id");
      SSM_CHECK(v >= 0 && v < vocab, path, ":", lineno, ": token id ", v, " (position ", ids.size() + 1,
                ") is outside the model's vocabulary [0, ", vocab, ")");
      ids.push_back(v);
    }
    if (!ids.empty()) seqs.push_back(std::move(ids));
  }
  return seqs;
}

// Mean next-token cross-entropy over every predicted position (positions 1..n-1 of each line).
train::Metrics eval_tokens(const models::MambaLM& model, const std::vector<std::vector<int64_t>>& seqs) {
  std::map<size_t, std::vector<const std::vector<int64_t>*>> by_len;
  for (const auto& s : seqs)
    if (s.size() >= 2) by_len[s.size()].push_back(&s);
  double total = 0;
  int64_t count = 0;
  NoGradGuard ng;
  for (auto& [len, group] : by_len) {
    for (size_t start = 0; start < group.size(); start += 64) {
      size_t n = std::min<size_t>(64, group.size() - start);
      std::vector<int64_t> flat;
      for (size_t i = 0; i < n; ++i) flat.insert(flat.end(), group[start + i]->begin(), group[start + i]->end());
      Tensor ids = Tensor::from_vector(flat, {int64_t(n), int64_t(len)}).to(model.device());
      Tensor logits = model.forward(ids.narrow(1, 0, int64_t(len) - 1));
      Tensor target = ids.narrow(1, 1, int64_t(len) - 1).reshape({-1});
      Tensor loss = cross_entropy(logits.reshape({-1, logits.size(2)}), target,
                                  {.reduction = Reduction::sum});
      total += loss.to(DType::f64).item<double>();
      count += int64_t(n * (len - 1));
    }
  }
  SSM_CHECK(count > 0, "eval: the --tokens file has no line with two or more tokens");
  return {{"loss", total / double(count)}, {"tokens", double(count)}, {"sequences", double(seqs.size())},
          {"perplexity", std::exp(total / double(count))}};
}

void run_eval(const EvalArgs& a) {
  io::LoadedModel m = io::load_model_dir(a.model_dir);
  m.model->to(resolve_device(a.device, "eval"));
  AutocastGuard autocast_guard(parse_precision(a.precision, m.model->device(), "eval"));
  train::Metrics metrics;
  if (!a.tokens.empty()) {
    metrics = eval_tokens(*m.model, read_token_lines(a.tokens, m.config.vocab_size));
  } else {
    std::string cfg_path = !a.config.empty() ? a.config : a.model_dir + "/train_config.yaml";
    SSM_CHECK(std::filesystem::exists(cfg_path), "eval: give --tokens FILE, or --data with a model directory "
              "written by ssm train (it has train_config.yaml), or --config FILE");
    std::vector<std::string> overrides;
    if (!a.data.empty()) overrides.push_back("dataset.name=" + a.data);
    io::TrainConfig cfg = io::load_config(cfg_path, overrides);
    auto task = train::make_task(cfg);
    SSM_CHECK(task->tokenizer().vocab_size() <= m.config.vocab_size, "eval: the ", a.data,
              " tokenizer has ", task->tokenizer().vocab_size(), " tokens, the model only ",
              m.config.vocab_size);
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
  cmd->add_option("--max-batches", a->max_batches, "evaluate only this many batches (0: all)")->check(CLI::NonNegativeNumber);
  cmd->add_flag("--json", a->json, "print one JSON object");
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--precision", a->precision, "fp32, or bf16 / fp16 products on a GPU")->capture_default_str();
  register_action(cmd, [a] { run_eval(*a); });
}

}  // namespace ssm::cli
