// The ssm command-line tool. Sub-commands parse flags and call the library; errors become a
// message on stderr and a non-zero exit status.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"

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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
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
