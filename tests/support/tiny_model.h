// A tiny model dir written by the library (no training), for tests that run commands on one.
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

// A 1-layer Mamba LM (d_model 16, d_state 4) with `vocab` tokens, initialised from seed 0;
// `edit` may change its parameters (by name) before it is saved with `tok` into `dir`.
inline void save_tiny_model(const std::string& dir, const data::Tokenizer& tok, int64_t vocab,
                            const std::function<void(std::map<std::string, Tensor>&)>& edit = {}) {
  models::ModelConfig cfg;
  cfg.options = {{"d_model", kTinyWidth}, {"n_layer", 1}, {"d_state", 4}, {"vocab_size", vocab}};
  Generator gen(0);
  std::unique_ptr<models::Model> model = models::create_model(cfg, gen);
  if (edit) {
    std::map<std::string, Tensor> state = model->state_dict();
    edit(state);
    model->load_state_dict(state);
  }
  io::save_model_dir(dir, *model, &tok);
}

}  // namespace ssm::testing
