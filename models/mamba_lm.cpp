#include "models/mamba_lm.h"

#include <tuple>
#include <utility>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "nn/embedding.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace ssm::models {

using json = nlohmann::json;

// ---- config -------------------------------------------------------------------------------------

json MambaLMConfig::to_json() const {
  return json{{"architectures", {"MambaForCausalLM"}},
              {"model_type", "mamba"},
              {"vocab_size", vocab_size},
              {"hidden_size", hidden_size},
              {"state_size", state_size},
              {"num_hidden_layers", num_hidden_layers},
              {"expand", expand},
              {"intermediate_size", expand * hidden_size},
              {"conv_kernel", conv_kernel},
              {"time_step_rank", time_step_rank > 0 ? json(time_step_rank) : json("auto")},
              {"layer_norm_epsilon", layer_norm_epsilon},
              {"use_bias", use_bias},
              {"use_conv_bias", use_conv_bias},
              {"hidden_act", "silu"},
              {"residual_in_fp32", residual_in_fp32},
              {"tie_word_embeddings", tie_word_embeddings},
              {"time_step_min", time_step_min},
              {"time_step_max", time_step_max},
              {"time_step_floor", time_step_floor},
              {"time_step_scale", time_step_scale},
              {"time_step_init_scheme", "random"},
              {"initializer_range", initializer_range},
              {"rescale_prenorm_residual", false},
              {"pad_token_id", pad_token_id},
              {"bos_token_id", bos_token_id},
              {"eos_token_id", eos_token_id},
              {"use_cache", true},
              {"torch_dtype", "float32"},
              {"ssm_discretization", discretization_name(scan.discretization)},
              {"ssm_alpha", scan.alpha},
              {"ssm_scan_algorithm", scan_algorithm_name(scan.algorithm)},
              {"ssm_scan_chunk", scan.chunk}};
}

namespace {
template <class T>
void read(const json& j, const char* key, T& out) {
  if (!j.contains(key) || j.at(key).is_null()) return;
  try {
    out = j.at(key).get<T>();
  } catch (const json::exception& e) {
    SSM_FAIL("config.json: key '", key, "' has the wrong type (", j.at(key).dump(), ")");
  }
}
}  // namespace

MambaLMConfig MambaLMConfig::from_json(const json& j) {
  SSM_CHECK(j.is_object(), "config.json: expected a JSON object");
  if (j.contains("model_type"))
    SSM_CHECK(j.at("model_type") == "mamba", "config.json: model_type is ", j.at("model_type").dump(),
              ", expected \"mamba\"");
  MambaLMConfig c;
  read(j, "vocab_size", c.vocab_size);
  read(j, "hidden_size", c.hidden_size);
  read(j, "state_size", c.state_size);
  read(j, "num_hidden_layers", c.num_hidden_layers);
  read(j, "expand", c.expand);
  read(j, "conv_kernel", c.conv_kernel);
  if (j.contains("time_step_rank") && j.at("time_step_rank").is_string()) {
    SSM_CHECK(j.at("time_step_rank") == "auto", "config.json: time_step_rank must be an integer or \"auto\"");
    c.time_step_rank = 0;
  } else {
    read(j, "time_step_rank", c.time_step_rank);
  }
  read(j, "layer_norm_epsilon", c.layer_norm_epsilon);
  read(j, "use_bias", c.use_bias);
  read(j, "use_conv_bias", c.use_conv_bias);
  read(j, "residual_in_fp32", c.residual_in_fp32);
  read(j, "tie_word_embeddings", c.tie_word_embeddings);
  read(j, "time_step_min", c.time_step_min);
  read(j, "time_step_max", c.time_step_max);
  read(j, "time_step_floor", c.time_step_floor);
  read(j, "time_step_scale", c.time_step_scale);
  read(j, "initializer_range", c.initializer_range);
  read(j, "pad_token_id", c.pad_token_id);
  read(j, "bos_token_id", c.bos_token_id);
  read(j, "eos_token_id", c.eos_token_id);
  if (j.contains("hidden_act"))
    SSM_CHECK(j.at("hidden_act") == "silu", "config.json: hidden_act ", j.at("hidden_act").dump(),
              " is not supported (only \"silu\", as in Mamba)");
  std::string disc = discretization_name(c.scan.discretization), algo = scan_algorithm_name(c.scan.algorithm);
  read(j, "ssm_discretization", disc);
  read(j, "ssm_scan_algorithm", algo);
  c.scan.discretization = parse_discretization(disc);
  c.scan.algorithm = parse_scan_algorithm(algo);
  read(j, "ssm_alpha", c.scan.alpha);
  read(j, "ssm_scan_chunk", c.scan.chunk);
  c.validate();
  return c;
}

void MambaLMConfig::validate() const {
  SSM_CHECK(vocab_size > 0, "config: vocab_size must be > 0, got ", vocab_size);
  SSM_CHECK(hidden_size > 0, "config: hidden_size must be > 0, got ", hidden_size);
  SSM_CHECK(num_hidden_layers > 0, "config: num_hidden_layers must be > 0, got ", num_hidden_layers);
  SSM_CHECK(state_size > 0 && state_size <= hidden_size, "config: state_size must be in [1, hidden_size = ",
            hidden_size, "], got ", state_size);
  SSM_CHECK(expand > 0, "config: expand must be > 0, got ", expand);
  SSM_CHECK(conv_kernel >= 2 && conv_kernel <= 8, "config: conv_kernel must be in [2, 8], got ", conv_kernel);
  SSM_CHECK(time_step_rank >= 0, "config: time_step_rank must be > 0 or \"auto\"");
  SSM_CHECK(layer_norm_epsilon > 0, "config: layer_norm_epsilon must be > 0");
  SSM_CHECK(scan.alpha >= 0 && scan.alpha <= 1, "config: ssm_alpha must be in [0, 1], got ", scan.alpha);
  SSM_CHECK(scan.chunk >= 1, "config: ssm_scan_chunk must be >= 1");
}

nn::MambaBlockConfig MambaLMConfig::block() const {
  nn::MambaBlockConfig b;
  b.d_model = hidden_size;
  b.d_state = state_size;
  b.d_conv = conv_kernel;
  b.expand = expand;
  b.dt_rank = time_step_rank;
  b.use_bias = use_bias;
  b.use_conv_bias = use_conv_bias;
  b.dt_min = time_step_min;
  b.dt_max = time_step_max;
  b.dt_init_floor = time_step_floor;
  b.dt_scale = time_step_scale;
  b.n_layer = num_hidden_layers;
  b.scan = scan;
  b.dtype = dtype;
  return b;
}

// ---- model --------------------------------------------------------------------------------------

class MambaLM::Layer : public nn::Module {
 public:
  Layer(const MambaLMConfig& c, Generator& gen) {
    norm = register_module("norm", std::make_shared<nn::RMSNorm>(c.hidden_size, c.layer_norm_epsilon, c.dtype));
    mixer = register_module("mixer", std::make_shared<nn::Mamba>(c.block(), gen));
  }
  std::shared_ptr<nn::RMSNorm> norm;
  std::shared_ptr<nn::Mamba> mixer;
};

class MambaLM::Backbone : public nn::Module {
 public:
  Backbone(const MambaLMConfig& c, Generator& gen) {
    embeddings = register_module("embeddings", std::make_shared<nn::Embedding>(c.vocab_size, c.hidden_size, gen, c.dtype));
    {
      NoGradGuard ng;
      embeddings->weight.copy_(mul(embeddings->weight, c.initializer_range));  // N(0, range)
    }
    layers = register_module("layers", std::make_shared<nn::ModuleList<Layer>>());
    for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->append(std::make_shared<Layer>(c, gen));
    norm_f = register_module("norm_f", std::make_shared<nn::RMSNorm>(c.hidden_size, c.layer_norm_epsilon, c.dtype));
  }
  std::shared_ptr<nn::Embedding> embeddings;
  std::shared_ptr<nn::ModuleList<Layer>> layers;
  std::shared_ptr<nn::RMSNorm> norm_f;
};

MambaLM::MambaLM(const MambaLMConfig& cfg, Generator& gen) : cfg_(cfg) {
  cfg.validate();
  backbone_ = register_module("backbone", std::make_shared<Backbone>(cfg, gen));
  if (!cfg.tie_word_embeddings)
    lm_head_ = register_module("lm_head", std::make_shared<nn::Linear>(cfg.hidden_size, cfg.vocab_size, false, gen, cfg.dtype));
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

Tensor MambaLM::lm_head_weight() const {
  return lm_head_ ? lm_head_->weight : backbone_->embeddings->weight;
}

Tensor MambaLM::hidden(const Tensor& ids, const Tensor& seq_start) const {
  SSM_CHECK(ids.dim() == 2, "MambaLM: expects token ids of shape (B, L), got ", describe(ids));
  // The stream is carried as (h, residual): h is the last mixer's output, not yet added, and
  // residual the sum of the embeddings and the earlier mixers' outputs (undefined before layer 0).
  const bool fp32 = cfg_.residual_in_fp32;
  Tensor h = backbone_->embeddings->forward(ids), residual;
  for (const auto& layer : *backbone_->layers) {
    auto block = [layer, seq_start, fp32](const std::vector<Tensor>& in) {
      auto [y, r] = add_norm(*layer->norm, in[0], in.size() > 1 ? in[1] : Tensor(), fp32);
      return std::vector<Tensor>{layer->mixer->forward(y, seq_start), r};
    };
    std::vector<Tensor> in{h};
    if (residual.defined()) in.push_back(residual);
    std::vector<Tensor> out = checkpointing_ && grad_enabled() ? checkpoint(block, in) : block(in);
    h = out[0];
    residual = out[1];
  }
  return add_norm(*backbone_->norm_f, h, residual, fp32).first;
}

Tensor MambaLM::forward(const Tensor& ids, const Tensor& seq_start) const {
  return linear(autocast(hidden(ids, seq_start)), autocast(lm_head_weight()));
}

MambaLMCache MambaLM::new_cache(int64_t batch) const {
  MambaLMCache c;
  for (const auto& layer : *backbone_->layers) c.layers.push_back(layer->mixer->new_cache(batch));
  return c;
}

Tensor MambaLM::prefill(const Tensor& ids, MambaLMCache& cache) const {
  SSM_CHECK(ids.dim() == 2 && ids.size(1) >= 1, "MambaLM::prefill: expects ids (B, L >= 1), got ",
            describe(ids));
  NoGradGuard ng;
  cache = new_cache(ids.size(0));
  const bool fp32 = cfg_.residual_in_fp32;
  Tensor h = backbone_->embeddings->forward(ids), residual, y;
  size_t i = 0;
  for (const auto& layer : *backbone_->layers) {
    std::tie(y, residual) = add_norm(*layer->norm, h, residual, fp32);
    h = layer->mixer->forward_with_cache(y, cache.layers[i++]);
  }
  int64_t t = ids.size(1) - 1;
  Tensor last = add_norm(*backbone_->norm_f, h.select(1, t), residual.select(1, t), fp32).first;
  return linear(autocast(last), autocast(lm_head_weight()));
}

Tensor MambaLM::step(const Tensor& ids, MambaLMCache& cache) const {
  SSM_CHECK(ids.dim() == 1, "MambaLM::step: expects ids of shape (B,), got ", describe(ids));
  SSM_CHECK(cache.layers.size() == backbone_->layers->size(), "MambaLM::step: the cache has ",
            cache.layers.size(), " layers, the model ", backbone_->layers->size());
  NoGradGuard ng;
  const bool fp32 = cfg_.residual_in_fp32;
  Tensor h = backbone_->embeddings->forward(ids), residual, y;  // (B, hidden)
  size_t i = 0;
  for (const auto& layer : *backbone_->layers) {
    std::tie(y, residual) = add_norm(*layer->norm, h, residual, fp32);
    h = layer->mixer->step(y, cache.layers[i++]);
  }
  Tensor last = add_norm(*backbone_->norm_f, h, residual, fp32).first;
  return linear(autocast(last), autocast(lm_head_weight()));
}

}  // namespace ssm::models
