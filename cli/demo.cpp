// ssm demo: a Mamba learns English -> Pig Latin on the CPU from configs/piglatin_small_mamba.yaml
// (fewer epochs), printing its loss and word accuracy falling and rising, then translates sample
// words: the assignment's examples, held-out validation words, and words in neither set.
#include <cstdio>
#include <filesystem>
#include <set>

#include "cli/commands.h"
#include "core/error.h"
#include "core/parallel.h"
#include "data/file.h"
#include "data/piglatin.h"
#include "data/piglatin_dataset.h"
#include "infer/translate.h"
#include "io/config.h"
#include "io/model_dir.h"
#include "train/trainer.h"

namespace ssm::cli {

namespace {

namespace fs = std::filesystem;

// Written into the demo's output directory so that a later demo may replace it, and nothing else.
constexpr const char* kDemoMarker = ".ssm-demo";

struct DemoArgs {
  std::string config = "configs/piglatin_small_mamba.yaml";
  std::string output_dir = "runs/demo";
  int64_t epochs = 40;
  std::vector<std::string> sets;
  std::vector<std::string> words;
};

// The demo starts from scratch each time; it only removes a directory an earlier demo made.
void prepare_output_dir(const std::string& dir) {
  if (fs::exists(dir) && !fs::is_empty(dir)) {
    SSM_CHECK(fs::exists(fs::path(dir) / kDemoMarker), "demo: '", dir,
              "' exists and was not written by ssm demo; choose another --output-dir");
    fs::remove_all(dir);
  }
  fs::create_directories(dir);
  data::write_file_atomic((fs::path(dir) / kDemoMarker).string(), "written by ssm demo\n");
}

std::vector<std::string> sample_words(const data::PairSplit& split) {
  std::vector<std::string> w = {"team", "impress", "shopping", "pleasure-grounds"};
  for (size_t i = 0; i < split.validation.size() && i < 8; ++i) w.push_back(split.validation[i].source);
  for (const char* s : {"strength", "conditioning", "quixotic", "rhythm", "yellow", "squirrel"}) w.push_back(s);
  return w;
}

void run_demo(const DemoArgs& a) {
  std::vector<std::string> overrides = a.sets;
  overrides.push_back("training.epochs=" + std::to_string(a.epochs));
  overrides.push_back("output_dir=" + a.output_dir);
  io::TrainConfig cfg = io::load_config(a.config, overrides);
  SSM_CHECK(cfg.dataset.name == io::DatasetName::piglatin_small || cfg.dataset.name == io::DatasetName::piglatin_large,
            "demo: the config must train on a Pig-Latin set, got dataset.name ", io::name_of(cfg.dataset.name));
  prepare_output_dir(cfg.output_dir);

  std::string where = cfg.device.is_cpu() ? "the CPU with " + std::to_string(num_threads()) + " threads"
                                          : "the GPU (" + cfg.device.str() + ")";
  std::printf("ssm demo: a %lld-layer Mamba (d_model %lld, d_state %lld) learns English -> Pig Latin\n"
              "  on %s: %lld epochs of %s, validation after each epoch\n\n",
              (long long)cfg.model.n_layer, (long long)cfg.model.d_model, (long long)cfg.model.d_state,
              where.c_str(), (long long)a.epochs, io::name_of(cfg.dataset.name));
  std::fflush(stdout);
  train::TrainResult r = train::train(cfg, {.progress = true});
  std::printf("\ntrained %lld steps in %.1f s; best validation word accuracy %.4f\n\n",
              (long long)r.steps, r.seconds, r.best.count("val_accuracy") ? r.best.at("val_accuracy") : 0.0);

  // Which words the model saw: the same split the trainer made.
  std::string tsv = io::dataset_file(cfg.dataset);
  data::PairSplit split = data::split_pairs(data::load_pairs_tsv(tsv), uint64_t(cfg.dataset.split_seed),
                                            cfg.dataset.val_fraction);
  std::set<std::string> trained, held_out;
  for (const auto& p : split.train) trained.insert(p.source);
  for (const auto& p : split.validation) held_out.insert(p.source);

  io::LoadedModel m = io::load_model_dir(cfg.output_dir);
  auto* tok = dynamic_cast<const data::CharTokenizer*>(m.tokenizer.get());
  SSM_CHECK(tok, "demo: the trained model dir has no character tokenizer");
  std::vector<std::string> words = a.words.empty() ? sample_words(split) : a.words;
  std::vector<infer::Translation> out = infer::translate_words(*m.model, *tok, words);
  std::printf("%-18s %-20s %-10s %s\n", "word", "model (greedy)", "word is", "rule says");
  int right = 0;
  for (const infer::Translation& t : out) {
    std::string want = data::to_pig_latin(t.word);
    bool ok = t.ended && t.output == want;
    right += ok;
    const char* seen = trained.count(t.word) ? "trained" : held_out.count(t.word) ? "held out" : "unseen";
    std::printf("%-18s %-20s %-10s %s\n", t.word.c_str(), t.output.c_str(), seen,
                ok ? "ok" : ("expected " + want).c_str());
  }
  std::printf("\n%d/%zu sample words right. The model dir is %s; try\n"
              "  ./build/ssm translate --model-dir %s --check strength conditioning is\n"
              "and the full runs in the README (configs/piglatin_{small,large}_mamba.yaml).\n",
              right, out.size(), cfg.output_dir.c_str(), cfg.output_dir.c_str());
}

}  // namespace

void add_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Train a Pig-Latin Mamba on the CPU for a minute or two, then translate words");
  auto a = std::make_shared<DemoArgs>();
  cmd->add_option("--config,-c", a->config, "a Pig-Latin training config")->capture_default_str();
  cmd->add_option("--epochs", a->epochs, "passes over the training words")->capture_default_str()->check(CLI::PositiveNumber);
  cmd->add_option("--output-dir,-o", a->output_dir, "the demo's model dir (replaced on each run)")->capture_default_str();
  cmd->add_option("--set", a->sets, "override a config key, as in ssm train (repeatable)");
  cmd->add_option("words", a->words, "words to translate at the end (default: a sample)");
  register_action(cmd, [a] { run_demo(*a); });
}

}  // namespace ssm::cli
