// ssm info --model-dir D [--json]: parameters, FLOPs per token, memory, and the CPU threads this
// ssm runs on.
#include <cstdio>
#include <iostream>
#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "core/parallel.h"
#include "io/model_dir.h"

namespace ssm::cli {

namespace {

struct InfoArgs {
  std::string model_dir;
  bool json = false;
};

std::string human(double v, const char* unit) {
  const char* prefix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g %s%s", v, prefix[i], unit);
  return buf;
}

void run_info(const InfoArgs& a) {
  io::LoadedModel m = io::load_model_dir(a.model_dir);
  const models::Model& model = *m.model;
  const double flops = model.flops_per_token();
  int64_t params = model.num_parameters();
  std::map<std::string, int64_t> by_part;
  for (auto& [name, p] : model.named_parameters()) {
    std::string part = name.find("embeddings") != std::string::npos ? "embeddings"
                       : name.find("mixer") != std::string::npos  ? "mixers"
                                                                  : "norms and head";
    by_part[part] += p.numel();
  }
  double weights = double(params) * 4;
  double decode_state = double(model.decode_state_elements()) * 4;
  if (a.json) {
    nlohmann::json j = {{"parameters", params},         {"parameters_by_part", by_part},
                        {"forward_flops_per_token", flops}, {"training_flops_per_token", 3 * flops},
                        {"weights_bytes", weights},        {"training_bytes_per_parameter", 16},
                        {"decode_state_bytes_per_sequence", decode_state},
                        {"cpu_threads", num_threads()}, {"blas", blas_threading()},
                        {"config", model.config_json()}};
    std::cout << j.dump(2) << "\n";
    return;
  }
  std::printf("model: %s\n", model.summary().c_str());
  std::printf("parameters: %lld (%s)\n", (long long)params, human(double(params), "").c_str());
  for (auto& [part, count] : by_part) std::printf("  %-16s %lld\n", part.c_str(), (long long)count);
  std::printf("FLOPs per token: %s forward, ~%s training (forward + backward)\n", human(flops, "FLOP").c_str(),
              human(3 * flops, "FLOP").c_str());
  std::printf("memory: weights %s (float32); training ~%s (weights, gradients, AdamW moments) plus activations\n",
              human(weights, "B").c_str(), human(double(params) * 16, "B").c_str());
  if (model.next_token_logits())
    std::printf("  decoding state per sequence: %s (O(1) in length for SSM mixers)\n",
                human(decode_state, "B").c_str());
  else
    std::printf("  no decoding: one label per sequence (ssm eval reports its accuracy)\n");
  std::printf("CPU threads: %d (--threads N); BLAS: %s\n", num_threads(), blas_threading().c_str());
}

}  // namespace

void add_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Parameters, FLOPs per token and memory of a model directory");
  auto a = std::make_shared<InfoArgs>();
  cmd->add_option("--model-dir,-m", a->model_dir, "model directory")->required();
  cmd->add_flag("--json", a->json, "print JSON");
  register_action(cmd, [a] { run_info(*a); });
}

}  // namespace ssm::cli
