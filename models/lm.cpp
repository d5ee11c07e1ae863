#include "models/lm.h"

#include <tuple>
#include <utility>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "models/residual_blocks.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace ssm::models {

using schema::above;
using schema::at_least;

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<LMConfig>& LMConfig::section() {
  static const schema::Section<LMConfig> s = [] {
    schema::Section<LMConfig> s("model");
    auto& d = s.add("d_model", &LMConfig::d_model, at_least(1),
                    "width of the residual stream (HF hidden_size)");
    d.json_name = "hidden_size";
    d.aliases = {"hidden_dim", "hidden_size", "dim"};
    auto& n = s.add("n_layer", &LMConfig::n_layer, at_least(1),
                    "number of blocks (HF num_hidden_layers)");
    n.json_name = "num_hidden_layers";
    n.aliases = {"num_layers", "n_layers", "num_hidden_layers", "layers"};
    auto& v = s.add("vocab_size", &LMConfig::vocab_size, at_least(1),
                    "embedding rows; auto: the tokenizer's size (31 for Pig Latin, 256 for "
                    "bytes); may be larger than the tokenizer (padding)");
    v.auto_ok = true;
    v.json_name = "vocab_size";
    s.add("initializer_range", &LMConfig::initializer_range, above(0),
          "embeddings ~ N(0, initializer_range)")
        .json_name = "initializer_range";
    s.add("layer_norm_epsilon", &LMConfig::layer_norm_epsilon, above(0), "RMSNorm epsilon")
        .json_name = "layer_norm_epsilon";
    s.add("residual_in_fp32", &LMConfig::residual_in_fp32, "keep the residual stream in float32")
        .json_name = "residual_in_fp32";
    auto& tie = s.add("tie_embeddings", &LMConfig::tie_embeddings,
                      "LM head shares the embedding matrix (HF tie_word_embeddings)");
    tie.json_name = "tie_word_embeddings";
    tie.aliases = {"tie_word_embeddings"};
    for (auto [name, field] : {std::pair{"pad_token_id", &LMConfig::pad_token_id},
                               std::pair{"bos_token_id", &LMConfig::bos_token_id},
                               std::pair{"eos_token_id", &LMConfig::eos_token_id}}) {
      auto& k = s.add(name, field, at_least(0), "special token id (config.json only)");
      k.json_name = name;
      k.in_yaml = false;
    }
    return s;
  }();
  return s;
}

namespace {

nn::MixerContext mixer_context(const LMConfig& c, DType dtype) {
  return {.d_model = c.d_model, .n_layer = c.n_layer, .dtype = dtype, .causal = true};
}

// The parameters of an LM of these settings, counted without building it (doubles: a config may
// ask for more than int64 counts).
struct LMCounts {
  double embeddings = 0;  // and the untied head
  double layers = 0;      // every layer's RMSNorm and mixer
  double total = 0;       // with norm_f
};

LMCounts lm_counts(const LMConfig& c, const ModelConfig& cfg) {
  const double d = double(c.d_model);
  LMCounts n;
  n.embeddings = double(c.vocab_size) * d * (c.tie_embeddings ? 1 : 2);
  n.layers = double(c.n_layer) *
             (d + nn::mixer_info(cfg.mixer).parameters(cfg.options, mixer_context(c, cfg.dtype)));
  n.total = n.embeddings + n.layers + d;
  return n;
}

// A size whose weights cannot fit here, blamed on vocab_size or on n_layer, whichever part holds
// more of the parameters.
void check_size(const LMConfig& c, const ModelConfig& cfg, schema::Failures& f) {
  LMCounts n = lm_counts(c, cfg);
  std::string why = size_failure(n.total, cfg.dtype);
  if (why.empty()) return;
  if (n.embeddings >= n.layers)
    f.push_back({"vocab_size",
                 {"d_model"},
                 std::to_string(c.vocab_size) + " tokens x d_model " + std::to_string(c.d_model) +
                     " " + why});
  else
    f.push_back({"n_layer",
                 {"d_model"},
                 std::to_string(c.n_layer) + (c.n_layer == 1 ? " layer of " : " layers of ") +
                     count_in_words(n.layers / double(c.n_layer)) + " parameters (d_model " +
                     std::to_string(c.d_model) + " and the mixer's sizes) " + why});
}

schema::Failures lm_check(const ModelConfig& cfg) {
  LMConfig c = LMConfig::section().read_own(cfg.options);
  schema::Failures f = LMConfig::section().failures(c);
  schema::Failures m = nn::mixer_info(cfg.mixer).check(cfg.options, mixer_context(c, cfg.dtype));
  f.insert(f.end(), m.begin(), m.end());
  if (f.empty()) check_size(c, cfg, f);
  return f;
}

}  // namespace

// ---- model --------------------------------------------------------------------------------------

class LM::Backbone : public nn::Module {
 public:
  Backbone(const LMConfig& c, const ModelConfig& mc, const nn::MixerContext& ctx, Generator& gen) {
    embeddings = register_module("embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.d_model, gen, mc.dtype));
    {
      NoGradGuard ng;
      embeddings->weight.copy_(mul(embeddings->weight, c.initializer_range));  // N(0, range)
    }
    layers = register_module("layers", std::make_shared<nn::ModuleList<ResidualBlock>>());
    for (int64_t i = 0; i < c.n_layer; ++i)
      layers->append(std::make_shared<ResidualBlock>(c.d_model, c.layer_norm_epsilon, mc, ctx, gen));
    norm_f = register_module("norm_f", std::make_shared<nn::RMSNorm>(c.d_model, c.layer_norm_epsilon, mc.dtype));
  }
  std::shared_ptr<nn::Embedding> embeddings;
  std::shared_ptr<nn::ModuleList<ResidualBlock>> layers;
  std::shared_ptr<nn::RMSNorm> norm_f;
};

// Every layer's mixer state.
struct LMState final : DecodeState {
  std::vector<std::unique_ptr<nn::MixerState>> layers;
  std::vector<Tensor*> rows() override {
    std::vector<Tensor*> out;
    for (auto& l : layers)
      for (Tensor* t : l->rows()) out.push_back(t);
    return out;
  }
};

LM::LM(const ModelConfig& cfg, Generator& gen)
    : cfg_(cfg), lm_(LMConfig::section().read_own(cfg.options)), ctx_(mixer_context(lm_, cfg.dtype)) {
  SSM_CHECK(lm_.vocab_size > 0, "model.vocab_size is auto (0): give it, or let the task's "
            "tokenizer fill it in, before building the model");
  backbone_ = register_module("backbone", std::make_shared<Backbone>(lm_, cfg_, ctx_, gen));
  if (!lm_.tie_embeddings)
    lm_head_ = register_module("lm_head", std::make_shared<nn::Linear>(lm_.d_model, lm_.vocab_size, false, gen, cfg.dtype));
}

namespace {
// The residual step of every layer and of norm_f, fused as in mamba_ssm: residual += h, then
// RMSNorm with `norm`'s weight and eps. Returns {normed, residual}; the residual is float32
// (float64 for float64 models) when residual_in_fp32.
std::pair<Tensor, Tensor> add_norm(const nn::RMSNorm& norm, const Tensor& h, const Tensor& residual,
                                   bool residual_in_fp32) {
  return add_rms_norm(h, residual, norm.weight, norm.eps, residual_in_fp32);
}
}  // namespace

Tensor LM::lm_head_weight() const { return lm_head_ ? lm_head_->weight : backbone_->embeddings->weight; }

const nn::Mixer& LM::mixer(size_t layer) const { return *(*backbone_->layers)[layer].mixer; }

Tensor LM::hidden(const Tensor& ids, const Tensor& seq_start) const {
  SSM_CHECK(ids.dim() == 2, "LM: expects token ids of shape (B, L), got ", describe(ids));
  return run_residual_blocks(*backbone_->layers, *backbone_->norm_f, backbone_->embeddings->forward(ids), seq_start,
                             lm_.residual_in_fp32, checkpointing_);
}

Tensor LM::forward(const Tensor& ids, const Tensor& seq_start) const {
  return linear(autocast(hidden(ids, seq_start)), autocast(lm_head_weight()));
}

std::unique_ptr<DecodeState> LM::new_state(int64_t batch) const {
  auto s = std::make_unique<LMState>();
  for (const auto& layer : *backbone_->layers) s->layers.push_back(layer->mixer->new_state(batch));
  return s;
}

Tensor LM::prefill(const Tensor& ids, DecodeState& state) const {
  SSM_CHECK(ids.dim() == 2 && ids.size(1) >= 1, "LM::prefill: expects ids (B, L >= 1), got ",
            describe(ids));
  auto& s = dynamic_cast<LMState&>(state);
  SSM_CHECK(s.layers.size() == backbone_->layers->size(), "LM::prefill: the state has ",
            s.layers.size(), " layers, the model ", backbone_->layers->size());
  NoGradGuard ng;
  const bool fp32 = lm_.residual_in_fp32;
  Tensor h = backbone_->embeddings->forward(ids), residual, y;
  size_t i = 0;
  for (const auto& layer : *backbone_->layers) {
    std::tie(y, residual) = add_norm(*layer->norm, h, residual, fp32);
    h = layer->mixer->prefill(y, *s.layers[i++]);
  }
  int64_t t = ids.size(1) - 1;
  Tensor last = add_norm(*backbone_->norm_f, h.select(1, t), residual.select(1, t), fp32).first;
  return linear(autocast(last), autocast(lm_head_weight()));
}

Tensor LM::step(const Tensor& ids, DecodeState& state) const {
  SSM_CHECK(ids.dim() == 1, "LM::step: expects ids of shape (B,), got ", describe(ids));
  auto& s = dynamic_cast<LMState&>(state);
  SSM_CHECK(s.layers.size() == backbone_->layers->size(), "LM::step: the state has ",
            s.layers.size(), " layers, the model ", backbone_->layers->size());
  NoGradGuard ng;
  const bool fp32 = lm_.residual_in_fp32;
  Tensor h = backbone_->embeddings->forward(ids), residual, y;  // (B, d_model)
  size_t i = 0;
  for (const auto& layer : *backbone_->layers) {
    std::tie(y, residual) = add_norm(*layer->norm, h, residual, fp32);
    h = layer->mixer->step(y, *s.layers[i++]);
  }
  Tensor last = add_norm(*backbone_->norm_f, h, residual, fp32).first;
  return linear(autocast(last), autocast(lm_head_weight()));
}

json LM::config_json() const {
  const nn::MixerInfo& m = nn::mixer_info(cfg_.mixer);
  json out = schema::to_config_json(LMConfig::section().keys(), LMConfig::section().write(lm_));
  json mixer_values = m.defaults();  // every mixer key, also those the options leave out
  for (const schema::Key& k : m.keys())
    if (cfg_.options.contains(k.name)) mixer_values[k.name] = cfg_.options.at(k.name);
  json mixer_json = schema::to_config_json(m.keys(), mixer_values);
  for (auto& [k, v] : mixer_json.items()) out[k] = v;
  m.write_json(cfg_.options, ctx_, out);
  // Unset ids are written as null: transformers reads an absent one as its default, 0.
  for (const char* id : {"pad_token_id", "bos_token_id", "eos_token_id"})
    if (!out.contains(id)) out[id] = nullptr;
  out["architectures"] = json::array({m.hf_class});
  out["model_type"] = m.model_type;
  out["ssm_mixer"] = m.name;
  out["use_cache"] = true;
  out["torch_dtype"] = "float32";
  return out;
}

std::string LM::summary() const {
  return cfg_.mixer + " LM, " + std::to_string(lm_.n_layer) + " layers, d_model " +
         std::to_string(lm_.d_model) + ", vocab " + std::to_string(lm_.vocab_size) + "; " +
         mixer(0).summary();
}

double LM::flops_per_token() const {
  double per_layer = mixer(0).flops_per_token();
  return double(lm_.n_layer) * per_layer + 2 * double(lm_.d_model) * double(lm_.vocab_size);
}

int64_t LM::decode_state_elements() const { return lm_.n_layer * mixer(0).state_elements(); }

// ---- registry entry -------------------------------------------------------------------------------

ArchitectureInfo lm_architecture_info() {
  ArchitectureInfo a;
  a.name = "lm";
  a.doc = "language model: embeddings, n_layer x (RMSNorm, mixer, residual), RMSNorm, tied head";
  a.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = LMConfig::section().json_keys();
    return keys;
  };
  a.defaults = [] { return LMConfig::section().write(LMConfig{}); };
  a.check = lm_check;
  a.parameters = [](const ModelConfig& cfg) {
    return lm_counts(LMConfig::section().read_own(cfg.options), cfg).total;
  };
  a.create = [](const ModelConfig& cfg, Generator& gen) -> std::unique_ptr<Model> {
    return std::make_unique<LM>(cfg, gen);
  };
  // A config.json of a mixer's model_type (transformers' "mamba"), or of ssm's own LM ("ssm").
  a.reads = [](const json& config) {
    // Another ssm architecture's dir (a classifier) says so; an LM's says nothing or "lm".
    if (config.contains("ssm_architecture")) return config.at("ssm_architecture") == "lm";
    if (!config.contains("model_type")) return true;  // ssm's first dirs, and minimal configs
    const json& t = config.at("model_type");
    if (t == "ssm") return true;
    for (const nn::MixerInfo& m : nn::mixers())
      if (t == m.model_type) return true;
    return false;
  };
  a.from_json = [](const json& config, const std::string& source) {
    ModelConfig cfg;
    cfg.architecture = "lm";
    if (config.contains("ssm_mixer")) {
      SSM_CHECK(config.at("ssm_mixer").is_string(), source, ": ssm_mixer must be a string, got ",
                config.at("ssm_mixer").dump());
      cfg.mixer = config.at("ssm_mixer").get<std::string>();
      nn::mixer_info(cfg.mixer);
    } else if (config.contains("model_type") && config.at("model_type") != "ssm") {
      for (const nn::MixerInfo& m : nn::mixers())
        if (config.at("model_type") == m.model_type) cfg.mixer = m.name;
    }
    const nn::MixerInfo& m = nn::mixer_info(cfg.mixer);
    if (config.contains("model_type") && config.at("model_type") != "ssm")
      SSM_CHECK(config.at("model_type") == m.model_type, source, ": model_type ",
                config.at("model_type").dump(), " does not match ssm_mixer \"", m.name, "\"");
    m.check_json(config, source);
    cfg.options = schema::from_config_json(LMConfig::section().keys(), config, source);
    json mo = schema::from_config_json(m.keys(), config, source);
    for (auto& [k, v] : mo.items()) cfg.options[k] = v;
    return cfg;
  };
  return a;
}

}  // namespace ssm::models
