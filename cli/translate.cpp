// ssm translate --model-dir D [--beam K] [--check] [--device D] WORD... (or words on stdin)
#include <iostream>

#include "cli/commands.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "io/model_dir.h"
#include "tasks/piglatin/piglatin.h"
#include "tasks/piglatin/translate.h"

namespace ssm::cli {

namespace {

struct TranslateArgs {
  std::string model_dir, device = "auto";
  std::vector<std::string> words;
  int64_t beam = 1;
  bool check = false;
};

void run_translate(const TranslateArgs& a) {
  io::LoadedModel m = io::load_model_dir(a.model_dir);
  m.model->to(resolve_device(a.device, "translate"));
  auto* tok = dynamic_cast<const data::CharTokenizer*>(&m.need_tokenizer("translate"));
  SSM_CHECK(tok, "translate: '", a.model_dir, "' has no character tokenizer (", data::kTokenizerFile,
            "); it is not a Pig-Latin model written by ssm train");
  std::vector<std::string> words = a.words;
  if (words.empty()) {
    std::string w;
    while (std::cin >> w) words.push_back(w);
  }
  SSM_CHECK(!words.empty(), "translate: no words given (pass them as arguments or on stdin)");
  std::vector<tasks::Translation> outs = tasks::translate_words(*m.model, *tok, words, a.beam);
  int wrong = 0;
  for (const tasks::Translation& t : outs) {
    std::cout << t.word << "\t" << t.output;
    if (!t.ended) std::cout << "\t(no end marker)";
    if (a.check) {
      std::string want = tasks::to_pig_latin(t.word);
      bool ok = t.ended && t.output == want;
      wrong += !ok;
      std::cout << "\t" << (ok ? "ok" : "expected " + want);
    }
    std::cout << "\n";
  }
  if (a.check) std::cout << words.size() - size_t(wrong) << "/" << words.size() << " correct\n";
}

}  // namespace

void add_translate(CLI::App& app) {
  auto* cmd = app.add_subcommand("translate", "Translate English words to Pig Latin with a trained model");
  auto a = std::make_shared<TranslateArgs>();
  cmd->add_option("--model-dir,-m", a->model_dir, "model directory written by ssm train")->required();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--beam", a->beam, "beam size (1: greedy)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--check", a->check, "compare with the Pig-Latin rule and count the correct words");
  cmd->add_option("words", a->words, "English words (default: read from stdin)");
  register_action(cmd, [a] { run_translate(*a); });
}

}  // namespace ssm::cli
