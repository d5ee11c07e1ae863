// Tiny models and model dirs written by the library (no training), for tests that load or run
// commands on one.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "core/rng.h"
#include "core/tensor.h"
#include "data/tokenizer.h"
#include "io/model_dir.h"
#include "models/registry.h"

namespace ssm::testing {

inline constexpr int64_t kTinyWidth = 16;  // d_model

// A one-layer Mamba LM (d_model 16, d_state 4) over `vocab` ids (31: the Pig-Latin ones).
inline std::unique_ptr<models::Model> tiny_lm(uint64_t seed = 1, int64_t vocab = 31) {
  models::ModelConfig cfg;
  cfg.options = {{"vocab_size", vocab}, {"d_model", kTinyWidth}, {"d_state", 4}, {"n_layer", 1}};
  Generator gen(seed);
  return models::create_model(cfg, gen);
}

// tiny_lm over `vocab` ids, its parameters changed by `edit` (by name) when given, saved with
// `tok` into `dir`.
inline void save_tiny_model(const std::string& dir, const data::Tokenizer& tok, int64_t vocab,
                            const std::function<void(std::map<std::string, Tensor>&)>& edit = {}) {
  std::unique_ptr<models::Model> model = tiny_lm(1, vocab);
  if (edit) {
    std::map<std::string, Tensor> state = model->state_dict();
    edit(state);
    model->load_state_dict(state);
  }
  io::save_model_dir(dir, *model, &tok);
}

}  // namespace ssm::testing
