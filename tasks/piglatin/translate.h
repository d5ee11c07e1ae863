// English -> Pig Latin with a trained character model: `<sos> word <sep>` is the prompt, the
// model writes the translation and `<eos>`. Shared by `ssm translate` and `ssm demo`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "models/model.h"

namespace ssm::tasks {

struct Translation {
  std::string word;    // the input, lowercased
  std::string output;  // what the model wrote, without <eos>
  bool ended = false;  // the model wrote <eos> within the length limit
};

// Words are lowercased and validated (check_word: unknown characters, empty or over-long
// words are an ssm::Error naming the word). beam 1 is greedy decoding.
std::vector<Translation> translate_words(const models::Model& model, const data::CharTokenizer& tok,
                                         const std::vector<std::string>& words, int64_t beam = 1);

}  // namespace ssm::tasks
