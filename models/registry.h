// The architecture registry and create_model: every way to build a Model from a ModelConfig or
// from a model dir's config.json. models/registry.cpp lists each architecture once.
//
// Adding an architecture: models/<name>.{h,cpp} (the Model, its config section, its config.json
// reader) and one line in models/registry.cpp; docs/architecture.md has the recipe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/rng.h"
#include "core/schema.h"
#include "models/model.h"

namespace ssm::models {

struct ArchitectureInfo {
  std::string name;  // model.architecture in YAML
  std::string doc;   // one line for --help-config
  // The architecture's own keys in the model section (its mixer adds its keys), reading and
  // writing a JSON object of options (schema::Section::json_keys).
  std::function<const std::vector<schema::Key>&()> keys;
  // The values of those keys when the options give none (the config struct's defaults).
  std::function<json()> defaults;
  // Cross-field problems of `cfg`, the mixer's included (keys relative to the model section).
  std::function<schema::Failures(const ModelConfig& cfg)> check;
  // The parameters a model of `cfg` holds, counted without building it (a double: a config may ask
  // for more than int64 counts). `check` refuses a count whose weights cannot fit in memory.
  std::function<double(const ModelConfig& cfg)> parameters;
  std::function<std::unique_ptr<Model>(const ModelConfig& cfg, Generator& gen)> create;
  // Whether a config.json describes this architecture, and its ModelConfig when it does.
  std::function<bool(const json& config)> reads;
  std::function<ModelConfig(const json& config, const std::string& source)> from_json;
};

const std::vector<ArchitectureInfo>& architectures();
// The architecture called `name`; an ssm::Error naming the registered ones otherwise.
const ArchitectureInfo& architecture_info(const std::string& name);
std::vector<std::string> architecture_names();

// The model section's choices: preset, architecture and mixer (and `arch`, the older spelling of
// mixer), over ModelConfig's fields.
const schema::Section<ModelConfig>& model_choice_section();

// The model section's keys for an architecture and a mixer: the architecture's, then the mixer's;
// and their defaults.
std::vector<schema::Key> model_keys(const std::string& architecture, const std::string& mixer);
json model_defaults(const std::string& architecture, const std::string& mixer);

// Every problem of `cfg` (keys relative to the model section): an option that is neither the
// architecture's nor the mixer's, a value of the wrong type or out of range, a cross-field rule.
schema::Failures model_failures(const ModelConfig& cfg);
// Throws an ssm::Error naming the first problem ("model.d_model: must be >= 1, got 0").
void check_model_config(const ModelConfig& cfg);

// Checks `cfg`, then builds the model on the CPU, initialised from `gen`.
std::unique_ptr<Model> create_model(const ModelConfig& cfg, Generator& gen);

// The ModelConfig of a Hugging Face config.json; `source` names the file in messages.
ModelConfig model_config_from_json(const json& config, const std::string& source);

// Size presets (the topoformer-ssm README, seeds/000): model.* values a preset fills in.
struct Preset {
  std::string name;
  json values;
};
const std::vector<Preset>& model_presets();
std::vector<std::string> preset_names();  // "none" first

}  // namespace ssm::models
