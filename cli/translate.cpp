// ssm translate --model-dir D [--beam K] [--check] WORD... (or words on stdin)
#include <iostream>
#include <map>
#include <sstream>

#include "cli/commands.h"
#include "core/error.h"
#include "data/piglatin.h"
#include "data/tokenizer.h"
#include "infer/beam_search.h"
#include "infer/mamba_decoder.h"
#include "io/model_dir.h"

namespace ssm::cli {

namespace {

struct TranslateArgs {
  std::string model_dir;
  std::vector<std::string> words;
  int64_t beam = 1;
  bool check = false;
};

void run_translate(const TranslateArgs& a) {
  io::LoadedModel m = io::load_model_dir(a.model_dir);
  auto* tok = dynamic_cast<const data::CharTokenizer*>(m.tokenizer.get());
  SSM_CHECK(tok, "translate: '", a.model_dir, "' has no character tokenizer (", data::kTokenizerFile,
            "); it is not a Pig-Latin model written by ssm train");
  std::vector<std::string> words = a.words;
  if (words.empty()) {
    std::string w;
    while (std::cin >> w) words.push_back(w);
  }
  SSM_CHECK(!words.empty(), "translate: no words given (pass them as arguments or on stdin)");
  std::vector<std::vector<int64_t>> prompts;
  size_t longest = 0;
  for (std::string& w : words) {
    for (char& c : w) c = char(std::tolower(static_cast<unsigned char>(c)));
    data::check_word(w);  // unknown characters, empty or over-long words: a clear error
    std::vector<int64_t> p = {tok->sos()};
    for (int64_t id : tok->encode(w)) p.push_back(id);
    p.push_back(tok->sep());
    prompts.push_back(std::move(p));
    longest = std::max(longest, w.size());
  }
  infer::MambaDecoder dec(*m.model);
  int64_t max_new = int64_t(longest) + 8;  // the translation adds at most "way" plus <eos>
  std::vector<std::vector<int64_t>> outs =
      a.beam > 1 ? infer::best_tokens(infer::beam_search(dec, prompts, {.beam_size = a.beam, .max_new_tokens = max_new, .eos = tok->eos()}))
                 : infer::greedy_decode(dec, prompts, max_new, tok->eos());
  int wrong = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    std::vector<int64_t> ids = outs[i];
    bool ended = !ids.empty() && ids.back() == tok->eos();
    if (ended) ids.pop_back();
    std::string out = tok->decode(ids);
    std::cout << words[i] << "\t" << out;
    if (!ended) std::cout << "\t(no end marker within " << max_new << " characters)";
    if (a.check) {
      std::string want = data::to_pig_latin(words[i]);
      bool ok = ended && out == want;
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
  cmd->add_option("--beam", a->beam, "beam size (1: greedy)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_flag("--check", a->check, "compare with the Pig-Latin rule and count the correct words");
  cmd->add_option("words", a->words, "English words (default: read from stdin)");
  register_action(cmd, [a] { run_translate(*a); });
}

}  // namespace ssm::cli
