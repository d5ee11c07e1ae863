// ssm translate --model-dir D [--beam K] [--check] [--device D] WORD... (or words on stdin)
#include <unistd.h>

#include <iostream>
#include <sstream>

#include "cli/checks.h"
#include "cli/commands.h"
#include "core/error.h"
#include "data/tokenizer.h"
#include "io/model_dir.h"
#include "tasks/piglatin/piglatin.h"
#include "tasks/piglatin/translate.h"

namespace ssm::cli {

namespace {

constexpr const char* kPrompt = "english> ";

struct TranslateArgs {
  std::string model_dir, device = "auto";
  std::vector<std::string> words;
  int64_t beam = 1;
  bool check = false;
};

// Translates `words` and prints a line per word; counts the words and, with --check, the wrong ones.
void answer(const TranslateArgs& a, const models::Model& model, const data::CharTokenizer& tok,
            const std::vector<std::string>& words, size_t& total, size_t& wrong) {
  for (const tasks::Translation& t : tasks::translate_words(model, tok, words, a.beam)) {
    std::cout << t.word << "\t" << t.output;
    if (!t.ended) std::cout << "\t(no end marker)";
    if (a.check) {
      std::string want = tasks::to_pig_latin(t.word);
      bool ok = t.ended && t.output == want;
      wrong += !ok;
      std::cout << "\t" << (ok ? "ok" : "expected " + want);
    }
    std::cout << "\n";
    ++total;
  }
  std::cout.flush();
}

// Words on stdin are answered a line at a time as each line arrives, so a pipe streams. A person
// at a terminal gets a prompt (on stderr, so `> file` keeps only the translations), and a bad word
// is reported without ending the session.
void answer_lines(const TranslateArgs& a, const models::Model& model, const data::CharTokenizer& tok,
                  bool terminal, size_t& total, size_t& wrong) {
  if (terminal) std::cerr << "Type English words, one or more a line; Ctrl-D ends.\n";
  for (std::string line;;) {
    if (terminal) std::cerr << kPrompt << std::flush;
    if (!std::getline(std::cin, line)) break;
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.empty()) continue;
    try {
      answer(a, model, tok, words, total, wrong);
    } catch (const Error& e) {
      if (!terminal) throw;
      std::cerr << "ssm: error: " << e.what() << "\n";
    }
  }
  if (terminal) std::cerr << "\n";
}

void run_translate(const TranslateArgs& a) {
  io::LoadedModel m = load_model_to_run(a.model_dir, "translate");
  need_next_token_model(m, "translate");
  m.model->to(resolve_device(a.device, "translate"));
  auto* tok = dynamic_cast<const data::CharTokenizer*>(&m.need_tokenizer("translate"));
  SSM_CHECK(tok, "translate: '", a.model_dir, "' has no character tokenizer (", data::kTokenizerFile,
            "); it is not a Pig-Latin model written by ssm train");
  size_t total = 0, wrong = 0;
  if (!a.words.empty()) {
    answer(a, *m.model, *tok, a.words, total, wrong);
  } else {
    bool terminal = ::isatty(STDIN_FILENO) == 1;
    answer_lines(a, *m.model, *tok, terminal, total, wrong);
    SSM_CHECK(total > 0 || terminal, "translate: no words given (pass them as arguments or on stdin)");
  }
  if (a.check && total > 0) std::cout << total - wrong << "/" << total << " correct\n";
}

}  // namespace

void add_translate(CLI::App& app) {
  auto* cmd = app.add_subcommand("translate", "Translate English words to Pig Latin with a trained model");
  auto a = std::make_shared<TranslateArgs>();
  cmd->add_option("--model-dir,-m", a->model_dir, "model directory written by ssm train")->required();
  cmd->add_option("--device", a->device, "auto, cpu, cuda or cuda:N (auto: the GPU when one is visible)")->capture_default_str();
  cmd->add_option("--beam", a->beam, "beam size (1: greedy)")->transform(in_range(1, 64))->capture_default_str();
  cmd->add_flag("--check", a->check, "compare with the Pig-Latin rule and count the correct words");
  cmd->add_option("words", a->words, "English words (default: read from stdin a line at a time, with a prompt on a terminal)");
  register_action(cmd, [a] { run_translate(*a); });
}

}  // namespace ssm::cli
