#include "train/checkpoint.h"

#include <filesystem>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <map>

#include "core/autograd.h"
#include "core/error.h"
#include "core/file.h"
#include "io/safetensors.h"

namespace ssm::train {

namespace fs = std::filesystem;

nlohmann::json TrainerState::to_json() const {
  return {{"step", step},
          {"epoch", epoch},
          {"batch", batch},
          {"best_metric", best_metric},
          {"has_best", has_best},
          {"evals_without_improvement", evals_without_improvement},
          {"rng_seed", rng_seed},
          {"rng_offset", rng_offset},
          {"schedule", schedule},
          {"tokens_seen", tokens_seen},
          {"elapsed_seconds", elapsed_seconds},
          {"format", "ssm-trainer-state-1"}};
}

TrainerState TrainerState::from_json(const nlohmann::json& j) {
  SSM_CHECK(j.is_object() && j.value("format", "") == "ssm-trainer-state-1",
            "trainer_state.json: not an ssm trainer state (format ssm-trainer-state-1)");
  TrainerState s;
  try {
    s.step = j.at("step");
    s.epoch = j.at("epoch");
    s.batch = j.at("batch");
    s.best_metric = j.at("best_metric");
    s.has_best = j.at("has_best");
    s.evals_without_improvement = j.at("evals_without_improvement");
    s.rng_seed = j.at("rng_seed");
    s.rng_offset = j.at("rng_offset");
    s.schedule = j.at("schedule");
    s.tokens_seen = j.at("tokens_seen");
    s.elapsed_seconds = j.at("elapsed_seconds");
  } catch (const nlohmann::json::exception& e) {
    SSM_FAIL("trainer_state.json: ", e.what());
  }
  return s;
}

namespace {

std::map<std::string, Tensor> param_names(const nn::Module& model) {
  std::map<std::string, Tensor> out;
  for (auto& [name, p] : model.named_parameters()) out[name] = p;
  return out;
}

// Name of each optimizer slot's parameter (matched by identity).
std::string name_of(const nn::Module& model, const Tensor& p) {
  for (auto& [name, q] : model.named_parameters())
    if (q.impl() == p.impl()) return name;
  SSM_FAIL("checkpoint: an optimizer parameter is not a parameter of the model");
}

void fsync_path(const std::string& path, bool dir) {
  int fd = ::open(path.c_str(), dir ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
  SSM_CHECK(fd >= 0, "checkpoint: cannot open '", path, "' to sync it");
  int rc = ::fsync(fd);
  ::close(fd);
  SSM_CHECK(rc == 0, "checkpoint: fsync of '", path, "' failed");
}

std::string step_name(int64_t step) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "step-%08lld", (long long)step);
  return buf;
}

}  // namespace

std::string save_checkpoint(const std::string& dir, const nn::Module& model, const AdamW& opt,
                            const TrainerState& state) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  SSM_CHECK(!ec, "checkpoint: cannot create '", dir, "': ", ec.message());
  std::string name = step_name(state.step);
  std::string tmp = dir + "/." + name + ".tmp", final_dir = dir + "/" + name;
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  SSM_CHECK(!ec, "checkpoint: cannot create '", tmp, "': ", ec.message());

  std::map<std::string, Tensor> moments;
  for (const AdamW::Slot& s : opt.slots()) {
    std::string n = name_of(model, s.param);
    moments["exp_avg." + n] = s.exp_avg;
    moments["exp_avg_sq." + n] = s.exp_avg_sq;
  }
  safetensors::save(tmp + "/model.safetensors", model.state_dict(), {{"step", std::to_string(state.step)}});
  safetensors::save(tmp + "/optimizer.safetensors", moments, {{"adamw_steps", std::to_string(opt.steps())}});
  write_file_atomic(tmp + "/trainer_state.json", state.to_json().dump(2) + "\n");
  fsync_path(tmp, true);
  fs::remove_all(final_dir, ec);  // a stale one from an earlier run that died after renaming
  fs::rename(tmp, final_dir, ec);
  SSM_CHECK(!ec, "checkpoint: cannot rename '", tmp, "' to '", final_dir, "': ", ec.message());
  fsync_path(dir, true);
  write_file_atomic(dir + "/latest", name + "\n");
  // Only now is the previous checkpoint redundant.
  for (const auto& entry : fs::directory_iterator(dir)) {
    std::string n = entry.path().filename().string();
    if (entry.is_directory() && n.rfind("step-", 0) == 0 && n != name) fs::remove_all(entry.path(), ec);
  }
  return final_dir;
}

void check_output_dir(const std::string& out_dir, bool resume) {
  const std::string latest = out_dir + "/checkpoints/latest";
  bool have = fs::exists(latest);
  SSM_CHECK(resume || !have, "output directory '", out_dir,
            "' already holds a checkpoint; pass --resume to continue it, or choose another "
            "--output-dir");
  SSM_CHECK(!resume || have, "--resume: output directory '", out_dir,
            "' holds no checkpoint to continue (no ", latest,
            "); run without --resume to start training there");
}

std::optional<TrainerState> load_latest_checkpoint(const std::string& dir, nn::Module& model,
                                                   AdamW& opt) {
  std::string latest = dir + "/latest";
  if (!fs::exists(latest)) return std::nullopt;
  std::string name = read_file(latest);
  while (!name.empty() && (name.back() == '\n' || name.back() == ' ')) name.pop_back();
  SSM_CHECK(name.rfind("step-", 0) == 0 && name.find('/') == std::string::npos, latest,
            ": does not name a checkpoint ('", name, "')");
  std::string cdir = dir + "/" + name;
  TrainerState state;
  try {
    state = TrainerState::from_json(nlohmann::json::parse(read_file(cdir + "/trainer_state.json")));
  } catch (const nlohmann::json::parse_error& e) {
    SSM_FAIL(cdir, "/trainer_state.json: invalid JSON: ", e.what());
  }
  auto weights = safetensors::load(cdir + "/model.safetensors");
  auto moments = safetensors::load(cdir + "/optimizer.safetensors");
  // Check everything before changing anything.
  auto params = param_names(model);
  for (const AdamW::Slot& s : opt.slots()) {
    std::string n = name_of(model, s.param);
    for (const char* kind : {"exp_avg.", "exp_avg_sq."}) {
      auto it = moments.tensors.find(kind + n);
      SSM_CHECK(it != moments.tensors.end(), cdir, "/optimizer.safetensors: missing ", kind, n);
      SSM_CHECK(it->second.shape() == s.param.shape(), cdir, "/optimizer.safetensors: ", kind, n,
                " has shape ", it->second.shape(), ", the parameter ", s.param.shape());
    }
  }
  try {
    model.load_state_dict(weights.tensors);
  } catch (const Error& e) {
    SSM_FAIL(cdir, "/model.safetensors: ", e.what());
  }
  NoGradGuard ng;
  for (const AdamW::Slot& s : opt.slots()) {
    std::string n = name_of(model, s.param);
    Tensor m = s.exp_avg, v = s.exp_avg_sq;
    m.copy_(moments.tensors.at("exp_avg." + n));
    v.copy_(moments.tensors.at("exp_avg_sq." + n));
  }
  opt.set_steps(std::stoll(moments.metadata.count("adamw_steps") ? moments.metadata.at("adamw_steps") : "0"));
  return state;
}

}  // namespace ssm::train
