// ssm inspect FILE.safetensors: lists tensors (name, dtype, shape) and metadata.
#include <iomanip>
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "io/safetensors.h"

namespace ssm::cli {

void add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "List the tensors and metadata of a safetensors file");
  auto path = std::make_shared<std::string>();
  cmd->add_option("file", *path, "a .safetensors file")->required();
  register_action(cmd, [path] {
    auto file = safetensors::load(*path);
    int64_t total = 0;
    for (const auto& [name, t] : file.tensors) {
      std::cout << std::left << std::setw(48) << name << ' ' << std::setw(10) << dtype_name(t.dtype())
                << ' ' << t.shape() << '\n';
      total += t.numel();
    }
    std::cout << file.tensors.size() << " tensors, " << total << " elements\n";
    for (const auto& [k, v] : file.metadata)
      std::cout << "metadata " << k << ": " << (v.size() > 200 ? v.substr(0, 200) + "..." : v) << '\n';
  });
}

}  // namespace ssm::cli
