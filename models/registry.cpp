// The architecture registry: one line per architecture (models/registry.h).
#include "models/registry.h"

#include "core/error.h"
#include "models/classifier.h"
#include "models/lm.h"
#include "nn/mixer.h"

namespace ssm::models {

const std::vector<ArchitectureInfo>& architectures() {
  static const std::vector<ArchitectureInfo> all = {
      lm_architecture_info(),
      classifier_architecture_info(),
  };
  return all;
}

std::vector<std::string> architecture_names() {
  std::vector<std::string> names;
  for (const ArchitectureInfo& a : architectures()) names.push_back(a.name);
  return names;
}

const ArchitectureInfo& architecture_info(const std::string& name) {
  for (const ArchitectureInfo& a : architectures())
    if (a.name == name) return a;
  std::string names;
  for (const ArchitectureInfo& a : architectures()) names += (names.empty() ? "" : ", ") + a.name;
  SSM_FAIL("model.architecture '", name, "' is not an architecture of this build (architectures: ",
           names, ")");
}

const schema::Section<ModelConfig>& model_choice_section() {
  static const schema::Section<ModelConfig> s = [] {
    schema::Section<ModelConfig> s("model");
    s.add_choice("preset", &ModelConfig::preset, preset_names(),
                 "size preset filling d_model, d_state, d_conv, expand, n_layer (see the presets "
                 "below); keys given explicitly override it");
    s.add_choice("architecture", &ModelConfig::architecture, architecture_names(),
                 "how the model is assembled around its mixers (see the architectures below)");
    auto& mixer = s.add_choice("mixer", &ModelConfig::mixer, nn::mixer_names(),
                               "the sequence-mixing layer of every block (see the mixers below)");
    mixer.aliases = {"type", "ssm_layer", "layer_type"};
    auto& arch = s.add_choice("arch", &ModelConfig::mixer, nn::mixer_names(),
                              "older spelling of model.mixer, still read");
    arch.written = false;
    return s;
  }();
  return s;
}

std::vector<schema::Key> model_keys(const std::string& architecture, const std::string& mixer) {
  std::vector<schema::Key> keys = architecture_info(architecture).keys();
  const std::vector<schema::Key>& m = nn::mixer_info(mixer).keys();
  keys.insert(keys.end(), m.begin(), m.end());
  return keys;
}

json model_defaults(const std::string& architecture, const std::string& mixer_name) {
  json out = architecture_info(architecture).defaults();
  json mixer = nn::mixer_info(mixer_name).defaults();
  for (auto& [k, v] : mixer.items()) out[k] = v;
  return out;
}

schema::Failures model_failures(const ModelConfig& cfg) {
  const ArchitectureInfo& arch = architecture_info(cfg.architecture);
  nn::mixer_info(cfg.mixer);  // a clear error for an unknown mixer
  SSM_CHECK(cfg.options.is_object(), "model options must be an object of model.* keys, got ",
            cfg.options.dump());
  std::vector<schema::Key> keys = model_keys(cfg.architecture, cfg.mixer);
  schema::Failures f;
  for (const auto& [name, v] : cfg.options.items()) {
    const schema::Key* key = nullptr;
    for (const schema::Key& k : keys)
      if (k.name == name) key = &k;
    if (!key) {
      f.push_back({name, {}, "is not a key of architecture " + cfg.architecture + " with mixer " +
                                 cfg.mixer + " (its keys: " + schema::key_list(keys) + ")"});
      continue;
    }
    std::string path = name;
    std::string why = schema::check_value(*key, v, &path);
    if (!why.empty()) f.push_back({path, {}, why});
  }
  if (!f.empty()) return f;
  return arch.check(cfg);
}

void check_model_config(const ModelConfig& cfg) {
  schema::Failures f = model_failures(cfg);
  SSM_CHECK(f.empty(), "model.", f.empty() ? "" : f[0].key, ": ", f.empty() ? "" : f[0].message);
}

std::unique_ptr<Model> create_model(const ModelConfig& cfg, Generator& gen) {
  check_model_config(cfg);
  return architecture_info(cfg.architecture).create(cfg, gen);
}

ModelConfig model_config_from_json(const json& config, const std::string& source) {
  SSM_CHECK(config.is_object(), source, ": expected a JSON object");
  for (const ArchitectureInfo& a : architectures())
    if (a.reads(config)) return a.from_json(config, source);
  std::string type = config.contains("model_type") ? config.at("model_type").dump() : "none";
  std::string names;
  for (const ArchitectureInfo& a : architectures()) names += (names.empty() ? "" : ", ") + a.name;
  SSM_FAIL(source, ": model_type ", type, " is not a model this build reads (architectures: ",
           names, "; mixers: ", [] {
             std::string m;
             for (const std::string& n : nn::mixer_names()) m += (m.empty() ? "" : ", ") + n;
             return m;
           }(), ")");
}

const std::vector<Preset>& model_presets() {
  static const std::vector<Preset> p = {
      {"small", {{"d_model", 256}, {"d_state", 32}, {"d_conv", 4}, {"expand", 2}, {"n_layer", 4}}},
      {"medium", {{"d_model", 512}, {"d_state", 64}, {"d_conv", 4}, {"expand", 2}, {"n_layer", 8}}},
      {"large", {{"d_model", 1024}, {"d_state", 128}, {"d_conv", 5}, {"expand", 4}, {"n_layer", 16}}},
  };
  return p;
}

std::vector<std::string> preset_names() {
  std::vector<std::string> names = {"none"};
  for (const Preset& p : model_presets()) names.push_back(p.name);
  return names;
}

}  // namespace ssm::models
