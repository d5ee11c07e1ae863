#include "cli/commands.h"

#include <cstdio>
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "nn/module.h"
#include "train/interrupt.h"
#include "core/parallel.h"
#include "core/shipped.h"
#include "core/suggest.h"

namespace ssm::cli {

namespace {

namespace fs = std::filesystem;

std::map<CLI::App*, std::function<void()>>& actions() {
  static std::map<CLI::App*, std::function<void()>> a;
  return a;
}

// Enough for any machine's cores; far more would only start threads that wait.
constexpr int kMaxThreads = 1024;

std::string& threads_arg() {
  static std::string arg;
  return arg;
}
std::optional<int>& threads_value() {
  static std::optional<int> n;
  return n;
}

}  // namespace

void add_threads_option(CLI::App& app) {
  // The default is the pool's size at start: OMP_NUM_THREADS, else every core, which trains
  // fastest on the machines measured (docs/architecture.md, "CPU threads").
  std::string help = "CPU threads for this command (default here: " + std::to_string(num_threads()) +
                     (std::getenv("OMP_NUM_THREADS") ? ", from OMP_NUM_THREADS)" : ", every core)");
  std::function<void(CLI::App*)> add = [&](CLI::App* cmd) {
    std::vector<CLI::App*> subs = cmd->get_subcommands({});
    if (subs.empty()) cmd->add_option("--threads", threads_arg(), help);
    for (CLI::App* sub : subs) add(sub);
  };
  for (CLI::App* sub : app.get_subcommands({})) add(sub);
}

void apply_threads_option() {
  const std::string& arg = threads_arg();
  if (arg.empty()) return;
  size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(arg, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  SSM_CHECK(used == arg.size() && n >= 1 && n <= kMaxThreads, "--threads must be a whole number from 1 to ",
            kMaxThreads, ", got ", quote_word(arg));
  threads_value() = int(n);
  set_num_threads(int(n));
}

std::optional<int> threads_option() { return threads_value(); }

std::string find_config(const std::string& given) {
  if (fs::exists(given)) return given;
  std::string looked = "\n  " + fs::absolute(given).string();
  std::string suggestion, shipped_names;
  if (fs::path(given).is_relative()) {
    try {
      ShippedPlace shipped = shipped_root();
      fs::path configs = fs::path(shipped.root) / "configs";
      // "configs/x.yaml" under the shipped folder; a bare "x.yaml" or "x" in its configs/.
      std::vector<fs::path> tries = {fs::path(shipped.root) / given};
      if (!fs::path(given).has_parent_path()) tries = {configs / given, configs / (given + ".yaml")};
      for (const fs::path& p : tries) {
        if (fs::exists(p)) return p.string();
        looked += "\n  " + p.string();
      }
      std::vector<std::string> names;
      for (const fs::directory_entry& e : fs::directory_iterator(configs))
        if (e.path().extension() == ".yaml") names.push_back(e.path().stem().string());
      std::sort(names.begin(), names.end());
      for (const std::string& n : names) shipped_names += (shipped_names.empty() ? "" : ", ") + n;
      suggestion = did_you_mean(fs::path(given).stem().string(), names);
      shipped_names = "\nshipped configs (in " + configs.string() + "): " + shipped_names;
    } catch (const Error& e) {
      shipped_names = std::string("\n") + e.what();
    }
  }
  SSM_FAIL("config file '", given, "' does not exist", suggestion, "; looked for it at:", looked, shipped_names);
}

void add_data_dir_option(CLI::App* cmd, std::string* dir) {
  cmd->add_option("--data-dir", *dir,
                  "the folder holding the data sets (default: $SSM_DATA, else the data folder "
                  "shipped with ssm); sets dataset.path");
}

tasks::RunConfig load_config(const std::string& config, std::vector<std::string> overrides,
                             const std::string& data_dir) {
  if (!data_dir.empty()) {
    SSM_CHECK(fs::is_directory(data_dir), "--data-dir '", data_dir, "' is not a folder");
    // As a YAML string (JSON's quoting is YAML's), whatever characters the path holds.
    overrides.push_back("dataset.path=" + nlohmann::json(fs::absolute(data_dir).lexically_normal().string()).dump());
  }
  if (auto n = threads_option()) overrides.push_back("training.threads=" + std::to_string(*n));
  return tasks::load_run_config(find_config(config), overrides);
}

void register_action(CLI::App* cmd, std::function<void()> action) { actions()[cmd] = std::move(action); }

Device resolve_device(const std::string& device, const char* command) {
  Device d = parse_device(device);
  check_device_usable(d, command);
  return d;
}

std::optional<DType> parse_precision(const std::string& precision, Device device, const char* command) {
  if (precision == "fp32") return std::nullopt;
  SSM_CHECK(precision == "bf16" || precision == "fp16", command, ": --precision must be fp32, bf16 or fp16, got '",
            precision, "'");
  SSM_CHECK(device.is_cuda(), command, ": --precision ", precision, " needs a CUDA device (the CPU runs fp32)");
  return precision == "bf16" ? DType::bf16 : DType::f16;
}

io::LoadedModel load_model_to_run(const std::string& dir, const char* command) {
  io::LoadedModel m = io::load_model_dir(dir);
  nn::check_finite_parameters(*m.model, std::string(command) + ": the weights in '" + dir + "'");
  return m;
}

void need_next_token_model(const io::LoadedModel& m, const char* command) {
  SSM_CHECK(m.model->next_token_logits(), command, ": '", m.dir, "' holds a ", m.model->summary(),
            "; it gives one label per sequence, not next-token predictions, so it cannot ",
            command, " (ssm eval -m ", m.dir, " reports its accuracy)");
}

namespace {

// `word` as a shell reads it back: as it is when plain, else in single quotes.
std::string shell_word(const std::string& word) {
  const std::string plain = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.,/:=+@%";
  if (!word.empty() && word.find_first_not_of(plain) == std::string::npos) return word;
  std::string q = "'";
  for (char c : word) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

std::string resume_command(const std::string& config, const std::vector<std::string>& overrides,
                           const std::string& output_dir, const std::string& data_dir) {
  std::string cmd = "ssm train -c " + shell_word(config);
  for (const std::string& o : overrides) cmd += " --set " + shell_word(o);
  if (!data_dir.empty()) cmd += " --data-dir " + shell_word(data_dir);
  return cmd + " -o " + shell_word(output_dir) + " --resume";
}

void report_halted_run(const train::TrainResult& r, const std::string& resume) {
  std::string why = r.signal ? std::string("stopped by ") + train::signal_name(r.signal) : "halted";
  std::fprintf(stderr, "ssm: %s after step %lld; checkpoint: %s\nssm: continue with: %s\n", why.c_str(),
               (long long)r.steps, r.checkpoint.c_str(), resume.c_str());
  if (r.signal) train::exit_by_signal(r.signal);
}

void run_selected(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands())
    if (auto it = actions().find(sub); it != actions().end()) it->second();
}

}  // namespace ssm::cli
