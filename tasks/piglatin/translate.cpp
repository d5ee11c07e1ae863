#include "tasks/piglatin/translate.h"

#include <algorithm>
#include <cctype>

#include "core/error.h"
#include "tasks/piglatin/piglatin.h"
#include "infer/beam_search.h"
#include "infer/model_decoder.h"

namespace ssm::tasks {

std::vector<Translation> translate_words(const models::Model& model, const data::CharTokenizer& tok,
                                         const std::vector<std::string>& words, int64_t beam) {
  SSM_CHECK(beam >= 1, "translate: beam size must be >= 1, got ", beam);
  std::vector<Translation> out(words.size());
  std::vector<std::vector<int64_t>> prompts;
  size_t longest = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    std::string w = words[i];
    for (char& c : w) c = char(std::tolower(static_cast<unsigned char>(c)));
    check_word(w);
    std::vector<int64_t> p = {tok.sos()};
    for (int64_t id : tok.encode(w)) p.push_back(id);
    p.push_back(tok.sep());
    prompts.push_back(std::move(p));
    longest = std::max(longest, w.size());
    out[i].word = std::move(w);
  }
  if (words.empty()) return out;
  infer::ModelDecoder dec(model);
  int64_t max_new = int64_t(longest) + 8;  // a translation adds at most "way" plus <eos>
  std::vector<std::vector<int64_t>> ids =
      beam > 1 ? infer::best_tokens(infer::beam_search(dec, prompts, {.beam_size = beam, .max_new_tokens = max_new, .eos = tok.eos()}))
               : infer::greedy_decode(dec, prompts, max_new, tok.eos());
  for (size_t i = 0; i < words.size(); ++i) {
    std::vector<int64_t>& v = ids[i];
    out[i].ended = !v.empty() && v.back() == tok.eos();
    if (out[i].ended) v.pop_back();
    out[i].output = tok.decode(v);
  }
  return out;
}

}  // namespace ssm::tasks
