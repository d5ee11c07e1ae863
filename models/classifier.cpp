#include "models/classifier.h"

#include <utility>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "models/residual_blocks.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/index.h"
#include "ops/matmul.h"
#include "ops/norm.h"
#include "ops/reduce.h"

namespace ssm::models {

using schema::above;
using schema::at_least;

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<ClassifierConfig>& ClassifierConfig::section() {
  static const schema::Section<ClassifierConfig> s = [] {
    schema::Section<ClassifierConfig> s("model");
    auto& d = s.add("d_model", &ClassifierConfig::d_model, at_least(1),
                    "width of the residual stream (H in the S4 papers; HF hidden_size)");
    d.json_name = "hidden_size";
    d.aliases = {"hidden_dim", "hidden_size", "dim"};
    auto& n = s.add("n_layer", &ClassifierConfig::n_layer, at_least(1),
                    "number of blocks (HF num_hidden_layers)");
    n.json_name = "num_hidden_layers";
    n.aliases = {"num_layers", "n_layers", "num_hidden_layers", "layers"};
    auto& v = s.add("vocab_size", &ClassifierConfig::vocab_size, at_least(2),
                    "input ids are in [0, vocab_size); auto: the task's (256 for pixels). With "
                    "input scalar an id reads as id / (vocab_size - 1)");
    v.auto_ok = true;
    v.json_name = "vocab_size";
    s.add("num_labels", &ClassifierConfig::num_labels, at_least(2),
          "classes of the linear head (10 for the digit and Fashion-MNIST tasks)")
        .json_name = "num_labels";
    auto& p = s.add_choice("pooling", &ClassifierConfig::pooling, {"mean", "last"},
                           "how the sequence becomes one vector: the mean over its real "
                           "(unpadded) positions, or its last real position");
    p.json_name = "ssm_pooling";
    auto& in = s.add_choice("input", &ClassifierConfig::input, {"scalar", "embedding"},
                            "scalar: each id is a number (id / (vocab_size - 1)) through "
                            "Linear(1, d_model), the S4 papers' pixel encoder; embedding: a "
                            "learned vector per id");
    in.json_name = "ssm_input";
    s.add("residual_dropout", &ClassifierConfig::residual_dropout, schema::between(0, 0.99),
          "dropout on each mixer's output before the residual add, while training")
        .json_name = "ssm_residual_dropout";
    s.add("initializer_range", &ClassifierConfig::initializer_range, above(0),
          "embeddings ~ N(0, initializer_range) (input embedding)")
        .json_name = "initializer_range";
    s.add("layer_norm_epsilon", &ClassifierConfig::layer_norm_epsilon, above(0), "RMSNorm epsilon")
        .json_name = "layer_norm_epsilon";
    s.add("residual_in_fp32", &ClassifierConfig::residual_in_fp32,
          "keep the residual stream in float32")
        .json_name = "residual_in_fp32";
    return s;
  }();
  return s;
}

namespace {

nn::MixerContext mixer_context(const ClassifierConfig& c, DType dtype) {
  // The pooled output reads every position, so a mixer may look both ways.
  return {.d_model = c.d_model, .n_layer = c.n_layer, .dtype = dtype, .causal = false};
}

double classifier_parameters(const ClassifierConfig& c, const ModelConfig& cfg) {
  const double d = double(c.d_model);
  double encoder = c.input == InputEncoding::scalar ? 2 * d : double(c.vocab_size) * d;
  double layers =
      double(c.n_layer) * (d + nn::mixer_info(cfg.mixer).parameters(cfg.options, mixer_context(c, cfg.dtype)));
  double head = d * double(c.num_labels) + double(c.num_labels);
  return encoder + layers + d + head;
}

schema::Failures classifier_check(const ModelConfig& cfg) {
  ClassifierConfig c = ClassifierConfig::section().read_own(cfg.options);
  schema::Failures f = ClassifierConfig::section().failures(c);
  schema::Failures m = nn::mixer_info(cfg.mixer).check(cfg.options, mixer_context(c, cfg.dtype));
  f.insert(f.end(), m.begin(), m.end());
  if (f.empty()) {
    std::string why = size_failure(classifier_parameters(c, cfg), cfg.dtype);
    if (!why.empty())
      f.push_back({"n_layer", {"d_model", "vocab_size"}, std::to_string(c.n_layer) + " layers " + why});
  }
  return f;
}

}  // namespace

// ---- model ----------------------------------------------------------------------------------------

class Classifier::Backbone : public nn::Module {
 public:
  Backbone(const ClassifierConfig& c, const ModelConfig& mc, const nn::MixerContext& ctx, Generator& gen) {
    layers = register_module("layers", std::make_shared<nn::ModuleList<ResidualBlock>>());
    for (int64_t i = 0; i < c.n_layer; ++i)
      layers->append(std::make_shared<ResidualBlock>(c.d_model, c.layer_norm_epsilon, mc, ctx, gen));
    norm_f = register_module("norm_f", std::make_shared<nn::RMSNorm>(c.d_model, c.layer_norm_epsilon, mc.dtype));
  }
  std::shared_ptr<nn::ModuleList<ResidualBlock>> layers;
  std::shared_ptr<nn::RMSNorm> norm_f;
};

Classifier::Classifier(const ModelConfig& cfg, Generator& gen)
    : cfg_(cfg), c_(ClassifierConfig::section().read_own(cfg.options)), ctx_(mixer_context(c_, cfg.dtype)) {
  SSM_CHECK(c_.vocab_size > 0, "model.vocab_size is auto (0): give it, or let the task fill it "
            "in, before building the classifier");
  if (c_.input == InputEncoding::scalar) {
    scalar_encoder_ = register_module("encoder", std::make_shared<nn::Linear>(1, c_.d_model, true, gen, cfg.dtype));
  } else {
    embedding_encoder_ = register_module("encoder", std::make_shared<nn::Embedding>(c_.vocab_size, c_.d_model, gen, cfg.dtype));
    NoGradGuard ng;
    embedding_encoder_->weight.copy_(mul(embedding_encoder_->weight, c_.initializer_range));
  }
  backbone_ = register_module("backbone", std::make_shared<Backbone>(c_, cfg_, ctx_, gen));
  head_ = register_module("classifier", std::make_shared<nn::Linear>(c_.d_model, c_.num_labels, true, gen, cfg.dtype));
}

const nn::Mixer& Classifier::mixer(size_t layer) const { return *(*backbone_->layers)[layer].mixer; }

Tensor Classifier::encode(const Tensor& ids) const {
  Tensor zero = scalar_like(0, ids);
  Tensor safe = where(ge(ids, zero), ids, zero);  // pads read as id 0
  if (embedding_encoder_) return embedding_encoder_->forward(safe);
  DType dt = scalar_encoder_->weight.dtype();
  Tensor x = mul(safe.to(dt), 1.0 / double(c_.vocab_size - 1)).unsqueeze(-1);  // (B, L, 1)
  return scalar_encoder_->forward(x);
}

Tensor Classifier::forward(const Tensor& ids, const Tensor& seq_start) const {
  SSM_CHECK(ids.dim() == 2 && ids.size(1) >= 1, "classifier: expects ids of shape (B, L >= 1), got ",
            describe(ids));
  SSM_CHECK(!seq_start.defined(), "classifier: packed sequences (seq_start) are not supported; "
            "give one sequence per row, padded with negative ids");
  // Residual dropout only while training with autograd on (the trainer does not switch modes).
  const double p = training() && grad_enabled() ? c_.residual_dropout : 0.0;
  Tensor x = run_residual_blocks(*backbone_->layers, *backbone_->norm_f, encode(ids), Tensor(),
                                 c_.residual_in_fp32, checkpointing_, p);

  // Pooling over the real positions: mask (B, L) is 1 where ids >= 0.
  const int64_t B = ids.size(0), D = c_.d_model;
  Tensor real = ge(ids, scalar_like(0, ids));
  Tensor count = sum(real.to(DType::i64), {1});  // (B)
  auto counts = count.cpu().to_vector<int64_t>();
  for (int64_t b = 0; b < B; ++b)
    SSM_CHECK(counts[size_t(b)] > 0, "classifier: sequence ", b, " of the batch is all padding");
  Tensor pooled;
  if (c_.pooling == Pooling::mean) {
    Tensor m = real.to(x.dtype()).unsqueeze(-1);                      // (B, L, 1)
    pooled = div(sum(mul(x, m), {1}), count.to(x.dtype()).unsqueeze(-1));  // (B, D)
  } else {
    Tensor last = sub(count, scalar_like(1, count)).reshape({B, 1, 1}).expand({B, 1, D}).contiguous();
    pooled = gather(x, 1, last).reshape({B, D});
  }
  return head_->forward(autocast(pooled)).unsqueeze(1);  // (B, 1, num_labels)
}

Tensor Classifier::loss(const Batch& batch) const {
  SSM_CHECK(batch.targets.dim() == 2 && batch.targets.size(1) == 1 &&
                batch.targets.size(0) == batch.ids.size(0),
            "classifier: expects one label per sequence, targets (B, 1) beside ids (B, L); got "
            "targets ", describe(batch.targets), " and ids ", describe(batch.ids),
            " (a language-modelling task gives a target per position: train it with "
            "model.architecture lm)");
  return Model::loss(batch);
}

namespace {
[[noreturn]] void no_decoding(const char* what) {
  SSM_FAIL("classifier: ", what, ": a sequence classifier gives one label per sequence and "
           "does not decode token by token (ssm eval reports its accuracy)");
}
}  // namespace

std::unique_ptr<DecodeState> Classifier::new_state(int64_t) const { no_decoding("new_state"); }
Tensor Classifier::prefill(const Tensor&, DecodeState&) const { no_decoding("prefill"); }
Tensor Classifier::step(const Tensor&, DecodeState&) const { no_decoding("step"); }

json Classifier::config_json() const {
  const nn::MixerInfo& m = nn::mixer_info(cfg_.mixer);
  json out = schema::to_config_json(ClassifierConfig::section().keys(), ClassifierConfig::section().write(c_));
  json mixer_values = m.defaults();
  for (const schema::Key& k : m.keys())
    if (cfg_.options.contains(k.name)) mixer_values[k.name] = cfg_.options.at(k.name);
  json mixer_json = schema::to_config_json(m.keys(), mixer_values);
  for (auto& [k, v] : mixer_json.items()) out[k] = v;
  m.write_json(cfg_.options, ctx_, out);
  out["architectures"] = json::array({"SSMForSequenceClassification"});
  out["model_type"] = "ssm";
  out["ssm_architecture"] = "classifier";
  out["ssm_mixer"] = m.name;
  out["torch_dtype"] = "float32";
  return out;
}

std::string Classifier::summary() const {
  return cfg_.mixer + " classifier, " + std::to_string(c_.n_layer) + " layers, d_model " +
         std::to_string(c_.d_model) + ", " + std::to_string(c_.num_labels) + " labels, " +
         (c_.pooling == Pooling::mean ? "mean" : "last") + " pooling, " +
         (c_.input == InputEncoding::scalar ? "scalar" : "embedding") + " input; " + mixer(0).summary();
}

double Classifier::flops_per_token() const {
  // The head runs once per sequence; per token it is the encoder and the layers.
  return double(c_.n_layer) * mixer(0).flops_per_token() + 2 * double(c_.d_model);
}

// ---- registry entry -------------------------------------------------------------------------------

ArchitectureInfo classifier_architecture_info() {
  ArchitectureInfo a;
  a.name = "classifier";
  a.doc = "sequence classifier: encoder, n_layer x (RMSNorm, mixer, residual), RMSNorm, mean or "
          "last pooling, linear head to num_labels";
  a.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = ClassifierConfig::section().json_keys();
    return keys;
  };
  a.defaults = [] { return ClassifierConfig::section().write(ClassifierConfig{}); };
  a.check = classifier_check;
  a.parameters = [](const ModelConfig& cfg) {
    return classifier_parameters(ClassifierConfig::section().read_own(cfg.options), cfg);
  };
  a.create = [](const ModelConfig& cfg, Generator& gen) -> std::unique_ptr<Model> {
    return std::make_unique<Classifier>(cfg, gen);
  };
  a.reads = [](const json& config) {
    return config.contains("ssm_architecture") && config.at("ssm_architecture") == "classifier";
  };
  a.from_json = [](const json& config, const std::string& source) {
    ModelConfig cfg;
    cfg.architecture = "classifier";
    SSM_CHECK(config.contains("ssm_mixer") && config.at("ssm_mixer").is_string(), source,
              ": a classifier's config.json names its mixer in \"ssm_mixer\" (a string)");
    SSM_CHECK(config.value("model_type", json("ssm")) == "ssm", source, ": model_type ",
              config.at("model_type").dump(), " with ssm_architecture \"classifier\"; expected \"ssm\"");
    cfg.mixer = config.at("ssm_mixer").get<std::string>();
    const nn::MixerInfo& m = nn::mixer_info(cfg.mixer);
    m.check_json(config, source);
    cfg.options = schema::from_config_json(ClassifierConfig::section().keys(), config, source);
    json mixer_options = schema::from_config_json(m.keys(), config, source);
    for (auto& [k, v] : mixer_options.items()) cfg.options[k] = v;
    return cfg;
  };
  return a;
}

}  // namespace ssm::models
