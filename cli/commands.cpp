#include "cli/commands.h"

#include <map>

#include "core/error.h"
#include "nn/module.h"

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

io::LoadedModel load_model_to_run(const std::string& dir, const char* command) {
  io::LoadedModel m = io::load_model_dir(dir);
  nn::check_finite_parameters(*m.model, std::string(command) + ": the weights in '" + dir + "'");
  return m;
}

void run_selected(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands())
    if (auto it = actions().find(sub); it != actions().end()) it->second();
}

}  // namespace ssm::cli
