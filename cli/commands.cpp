#include "cli/commands.h"

#include <map>

namespace ssm::cli {

namespace {
std::map<CLI::App*, std::function<void()>>& actions() {
  static std::map<CLI::App*, std::function<void()>> a;
  return a;
}
}  // namespace

void register_action(CLI::App* cmd, std::function<void()> action) { actions()[cmd] = std::move(action); }

void run_selected(CLI::App& app) {
  for (CLI::App* sub : app.get_subcommands())
    if (auto it = actions().find(sub); it != actions().end()) it->second();
}

}  // namespace ssm::cli
