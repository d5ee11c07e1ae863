#include "cli/commands.h"

#include <cstdio>
#include <map>

#include "core/error.h"
#include "train/interrupt.h"

namespace ssm::cli {

namespace {
std::map<CLI::App*, std::function<void()>>& actions() {
  static std::map<CLI::App*, std::function<void()>> a;
  return a;
}
}  // namespace

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
                           const std::string& output_dir) {
  std::string cmd = "ssm train -c " + shell_word(config);
  for (const std::string& o : overrides) cmd += " --set " + shell_word(o);
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
