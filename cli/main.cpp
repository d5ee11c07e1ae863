// The ssm command-line tool. Sub-commands parse flags and call the library; errors become a
// message on stderr and a non-zero exit status.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "core/error.h"
#include "core/suggest.h"

int main(int argc, char** argv) {
  CLI::App app{"ssm: train, evaluate and run state-space sequence models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(ssm::cli::kVersion));
  ssm::cli::add_inspect(app);
  ssm::cli::add_demo(app);
  ssm::cli::add_train(app);
  ssm::cli::add_eval(app);
  ssm::cli::add_translate(app);
  ssm::cli::add_generate(app);
  ssm::cli::add_info(app);
  ssm::cli::add_data(app);
  ssm::cli::add_threads_option(app);
  // CLI11 reads an unknown first word as a stray argument ("A subcommand is required"): name it,
  // with the nearest command, and list them all.
  std::vector<std::string> commands;
  for (const CLI::App* sub : app.get_subcommands({})) commands.push_back(sub->get_name());
  if (argc < 2 || (argv[1][0] != '-' &&
                   std::find(commands.begin(), commands.end(), argv[1]) == commands.end())) {
    std::string list;
    for (const std::string& c : commands) list += (list.empty() ? "" : ", ") + c;
    if (argc < 2)
      std::cerr << "ssm: a command is required: " << list << " (ssm COMMAND --help for its options)\n";
    else
      std::cerr << "ssm: unknown command '" << argv[1] << "'" << ssm::did_you_mean(argv[1], commands)
                << " (commands: " << list << ")\n";
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    ssm::cli::apply_threads_option();
    ssm::cli::run_selected(app);
  } catch (const ssm::Error& e) {
    std::cerr << "ssm: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "ssm: internal error: " << e.what() << "\n";
    return 2;
  }
  return 0;
}
