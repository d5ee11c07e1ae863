#include "nn/mamba.h"

#include <cmath>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "ops/causal_conv1d.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/matmul.h"
#include "ops/selective_scan.h"

namespace ssm::nn {

using schema::above;
using schema::at_least;
using schema::between;

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<MambaConfig>& MambaConfig::section() {
  static const schema::Section<MambaConfig> s = [] {
    schema::Section<MambaConfig> s("model");
    auto& d_state = s.add("d_state", &MambaConfig::d_state, at_least(1),
                          "SSM state size N per channel (HF state_size); must be <= d_model");
    d_state.json_name = "state_size";
    d_state.aliases = {"state_dim", "state_size"};
    auto& d_conv = s.add("d_conv", &MambaConfig::d_conv, between(2, 8),
                         "width of the causal depthwise conv (HF conv_kernel)");
    d_conv.json_name = "conv_kernel";
    d_conv.aliases = {"conv_kernel", "kernel_size"};
    auto& expand = s.add("expand", &MambaConfig::expand, at_least(1),
                         "inner width factor: d_inner = expand * d_model");
    expand.json_name = "expand";
    expand.aliases = {"expand_factor"};
    s.add("d_inner", &MambaConfig::d_inner, at_least(1),
          "inner width; derived as expand * d_model, give it only to assert that value")
        .auto_ok = true;
    auto& rank = s.add("dt_rank", &MambaConfig::dt_rank, at_least(1),
                       "rank of the Δ projection; auto: ceil(d_model / 16)");
    rank.auto_ok = true;
    rank.json_name = "time_step_rank";
    rank.aliases = {"time_step_rank"};
    s.add_choice("discretization", &MambaConfig::discretization,
                 {"zoh", "zoh_exact", "bilinear", "generalized_bilinear"},
                 "continuous -> discrete SSM: zoh (Mamba's), zoh_exact, bilinear, generalized_bilinear")
        .json_name = "ssm_discretization";
    auto& alpha = s.add("alpha", &MambaConfig::alpha, between(0, 1),
                        "generalized_bilinear's α: 1 forward Euler, 0 backward Euler, 0.5 bilinear");
    alpha.json_name = "ssm_alpha";
    alpha.only_when<MambaConfig>("discretization", "generalized_bilinear", [](const MambaConfig& c) {
      return c.discretization == Discretization::generalized_bilinear;
    });
    auto& scan = s.add_choice("scan", &MambaConfig::scan, {"sequential", "parallel", "log_space"},
                              "scan algorithm: sequential, parallel (chunks across threads), "
                              "log_space (Heinsen); log_space needs Ā > 0, which zoh and "
                              "zoh_exact guarantee");
    scan.json_name = "ssm_scan_algorithm";
    scan.aliases = {"use_parallel_scan"};
    s.add("scan_chunk", &MambaConfig::scan_chunk, at_least(1),
          "time steps between states kept for backward, and the parallel scan's chunk length")
        .json_name = "ssm_scan_chunk";
    auto& dt_min = s.add("dt_min", &MambaConfig::dt_min, above(0),
                         "Δ initialisation: log-uniform in [dt_min, dt_max]");
    dt_min.json_name = "time_step_min";
    dt_min.aliases = {"time_step_min"};
    auto& dt_max = s.add("dt_max", &MambaConfig::dt_max, above(0),
                         "Δ initialisation upper bound; dt_min <= dt_max");
    dt_max.json_name = "time_step_max";
    dt_max.aliases = {"time_step_max"};
    auto& floor = s.add("dt_init_floor", &MambaConfig::dt_init_floor, at_least(0),
                        "Δ initialisation floor");
    floor.json_name = "time_step_floor";
    floor.aliases = {"time_step_floor"};
    auto& scale = s.add("dt_scale", &MambaConfig::dt_scale, above(0),
                        "scale of the dt_proj weight initialisation");
    scale.json_name = "time_step_scale";
    scale.aliases = {"time_step_scale"};
    s.add("use_bias", &MambaConfig::use_bias, "biases on in_proj and out_proj").json_name = "use_bias";
    s.add("use_conv_bias", &MambaConfig::use_conv_bias, "bias on the causal conv").json_name =
        "use_conv_bias";
    s.check([](const MambaConfig& c, schema::Failures& f) {
      if (c.d_state > c.d_model)
        f.push_back({"d_state", {"d_model"},
                     "must be <= model.d_model (" + std::to_string(c.d_model) + "), got " +
                         std::to_string(c.d_state)});
      if (c.d_inner != 0 && c.d_inner != c.inner())
        f.push_back({"d_inner", {"expand", "d_model"},
                     "must equal model.expand * model.d_model = " + std::to_string(c.expand) +
                         " * " + std::to_string(c.d_model) + " = " + std::to_string(c.inner()) +
                         ", got " + std::to_string(c.d_inner) +
                         "; leave it out (or auto) to derive it"});
      if (c.dt_min > c.dt_max)
        f.push_back({"dt_min", {"dt_max"},
                     "must be <= model.dt_max (" + schema::format_number(c.dt_max) + "), got " +
                         schema::format_number(c.dt_min)});
    });
    return s;
  }();
  return s;
}

MambaConfig MambaConfig::from(const json& options, const MixerContext& ctx) {
  MambaConfig c = section().read_own(options);
  c.d_model = ctx.d_model;
  c.n_layer = ctx.n_layer;
  c.dtype = ctx.dtype;
  return c;
}

SelectiveScanOptions MambaConfig::scan_options() const {
  SelectiveScanOptions o;
  o.discretization = discretization;
  o.alpha = alpha;
  o.algorithm = scan;
  o.chunk = scan_chunk;
  return o;
}

namespace {
// Holds conv1d.weight / conv1d.bias under the names Hugging Face uses.
class DepthwiseConv1d : public Module {
 public:
  DepthwiseConv1d(int64_t channels, int64_t width, bool with_bias, Generator& gen, DType dtype) {
    double bound = 1.0 / std::sqrt(double(width));  // torch.nn.Conv1d's default, fan_in = width
    weight = register_parameter("weight", Tensor::uniform({channels, 1, width}, -bound, bound,
                                                          dtype, &gen));
    if (with_bias)
      bias = register_parameter("bias", Tensor::uniform({channels}, -bound, bound, dtype, &gen));
  }
  Tensor weight, bias;
};

}  // namespace

Mamba::Mamba(const MambaConfig& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t d = cfg.d_model, di = cfg.inner(), n = cfg.d_state, r = cfg.rank();
  SSM_CHECK(d > 0 && n > 0 && cfg.expand > 0, "Mamba: d_model, d_state and expand must be > 0");
  SSM_CHECK(cfg.d_conv >= 2 && cfg.d_conv <= 8, "Mamba: d_conv must be in [2, 8], got ", cfg.d_conv);
  SSM_CHECK(cfg.dt_min > 0 && cfg.dt_min <= cfg.dt_max, "Mamba: need 0 < dt_min <= dt_max, got ",
            cfg.dt_min, " and ", cfg.dt_max);
  in_proj = register_module("in_proj", std::make_shared<Linear>(d, 2 * di, cfg.use_bias, gen, cfg.dtype));
  auto conv = register_module("conv1d", std::make_shared<DepthwiseConv1d>(di, cfg.d_conv,
                                                                           cfg.use_conv_bias, gen, cfg.dtype));
  conv_weight = conv->weight;
  conv_bias = conv->bias;
  x_proj = register_module("x_proj", std::make_shared<Linear>(di, r + 2 * n, false, gen, cfg.dtype));
  dt_proj = register_module("dt_proj", std::make_shared<Linear>(r, di, true, gen, cfg.dtype));
  {
    NoGradGuard ng;
    // dt_proj.weight ~ U(-s, s), s = dt_scale / sqrt(dt_rank)
    double s = cfg.dt_scale / std::sqrt(double(r));
    dt_proj->weight.copy_(Tensor::uniform({di, r}, -s, s, DType::f64, &gen));
    // dt_proj.bias = softplus^-1(Δ), Δ log-uniform in [dt_min, dt_max], floored
    auto u = Tensor::rand({di}, DType::f64, &gen).to_vector<double>();
    std::vector<double> inv(u.size());
    for (size_t i = 0; i < u.size(); ++i) {
      double dt = std::exp(u[i] * (std::log(cfg.dt_max) - std::log(cfg.dt_min)) + std::log(cfg.dt_min));
      dt = std::max(dt, cfg.dt_init_floor);
      inv[i] = dt + std::log(-std::expm1(-dt));
    }
    dt_proj->bias.copy_(Tensor::from_vector(inv, {di}));
  }
  std::vector<double> a_log(size_t(di * n));
  for (int64_t c = 0; c < di; ++c)
    for (int64_t k = 0; k < n; ++k) a_log[size_t(c * n + k)] = std::log(double(k + 1));
  A_log = register_parameter("A_log", Tensor::from_vector(a_log, {di, n}).to(cfg.dtype));
  D = register_parameter("D", Tensor::ones({di}, cfg.dtype));
  out_proj = register_module("out_proj", std::make_shared<Linear>(di, d, cfg.use_bias, gen, cfg.dtype));
  {
    NoGradGuard ng;
    out_proj->weight.copy_(div(out_proj->weight, std::sqrt(double(cfg.n_layer))));
  }
}

Tensor Mamba::mix(const Tensor& x, MambaState* cache, const Tensor& seq_start) const {
  SSM_CHECK(x.dim() == 3 && x.size(2) == cfg_.d_model, "Mamba: expects (B, L, ", cfg_.d_model,
            "), got ", describe(x));
  const int64_t di = cfg_.inner(), n = cfg_.d_state, r = cfg_.rank();
  std::vector<Tensor> xz = split(in_proj->forward(x), di, -1);  // x, z: (B, L, d_inner)
  // Under autocast the conv runs in the dtype in_proj produced; A_log, D and the Δ bias stay
  // float32 (the scan computes in float32 whatever its inputs' dtypes).
  // The parameter itself is cast (a view of it is not a leaf, so its cast would not be cached).
  Tensor w = autocast(conv_weight).view({di, cfg_.d_conv});
  Tensor xs = causal_conv1d(xz[0], w, autocast(conv_bias), /*silu=*/true, seq_start);
  std::vector<Tensor> dbc = split(x_proj->forward(xs), std::vector<int64_t>{r, n, n}, -1);
  Tensor dt = linear(dbc[0], autocast(dt_proj->weight));  // its bias is added inside the scan
  Tensor A = neg(exp(A_log));
  Tensor fin;
  Tensor y = selective_scan(xs, dt, A, dbc[1], dbc[2], D, xz[1], dt_proj->bias, cfg_.scan_options(),
                            cache ? &fin : nullptr, seq_start);
  if (cache) {
    NoGradGuard ng;
    // The conv window holds the last d_conv pre-conv inputs, zero-padded on the left.
    int64_t B = x.size(0), L = x.size(1), W = cfg_.d_conv;
    // Kept in the parameters' dtype (as new_cache makes it), also when autocast made x 16-bit.
    Tensor window = Tensor::zeros({B, W, di}, A_log.dtype(), xz[0].device());
    int64_t take = std::min(L, W);
    window.narrow(1, W - take, take).copy_(xz[0].narrow(1, L - take, take));
    cache->conv_state = window.permute({0, 2, 1}).contiguous();
    cache->ssm_state = fin;
  }
  return out_proj->forward(y);
}

Tensor Mamba::forward(const Tensor& x, const Tensor& seq_start) const {
  return mix(x, nullptr, seq_start);
}

Tensor Mamba::prefill(const Tensor& x, MixerState& state) const {
  return mix(x, &dynamic_cast<MambaState&>(state));
}

std::unique_ptr<MixerState> Mamba::new_state(int64_t batch) const {
  DType dt = A_log.dtype();
  Device dev = A_log.device();
  NoGradGuard ng;
  auto s = std::make_unique<MambaState>();
  s->conv_state = Tensor::zeros({batch, cfg_.inner(), cfg_.d_conv}, dt, dev);
  s->ssm_state = Tensor::zeros({batch, cfg_.inner(), cfg_.d_state}, compute_dtype(dt), dev);
  s->A = neg(exp(A_log));
  return s;
}

Tensor Mamba::step(const Tensor& x, MixerState& state) const {
  SSM_CHECK(x.dim() == 2 && x.size(1) == cfg_.d_model, "Mamba::step: expects (B, ", cfg_.d_model,
            "), got ", describe(x));
  MambaState& cache = dynamic_cast<MambaState&>(state);
  NoGradGuard ng;
  const int64_t di = cfg_.inner(), n = cfg_.d_state, r = cfg_.rank();
  std::vector<Tensor> xz = split(in_proj->forward(x), di, -1);  // (B, d_inner) each
  Tensor w = conv_weight.view({di, cfg_.d_conv});
  if (xz[0].dtype() != w.dtype()) {  // autocast: the window keeps the weights' dtype
    xz[0] = xz[0].to(w.dtype());
  }
  Tensor xs = causal_conv1d_step(cache.conv_state, xz[0], w, conv_bias, /*silu=*/true);
  std::vector<Tensor> dbc = split(x_proj->forward(xs), std::vector<int64_t>{r, n, n}, -1);
  Tensor dt = linear(dbc[0], autocast(dt_proj->weight));
  Tensor A = cache.A.defined() ? cache.A : neg(exp(A_log));
  Tensor y = selective_scan_step(cache.ssm_state, xs, dt, A, dbc[1], dbc[2], D, xz[1],
                                 dt_proj->bias, cfg_.scan_options());
  return out_proj->forward(y);
}

// Forward FLOPs per token: 2 per multiply-add in the projections; the conv; the scan's ~7 per
// (channel, state) (discretize, exp, update, read out); norms and gates ignored.
double Mamba::flops_per_token() const {
  const double d = double(cfg_.d_model), di = double(cfg_.inner()), n = double(cfg_.d_state);
  const double r = double(cfg_.rank()), w = double(cfg_.d_conv);
  double proj = 2 * (d * 2 * di + di * (r + 2 * n) + r * di + di * d);
  return proj + 2 * di * w + 7 * di * n;
}

int64_t Mamba::state_elements() const { return cfg_.inner() * (cfg_.d_state + cfg_.d_conv); }

std::string Mamba::summary() const {
  return "d_inner " + std::to_string(cfg_.inner()) + ", d_state " + std::to_string(cfg_.d_state) +
         ", d_conv " + std::to_string(cfg_.d_conv) + ", " +
         discretization_name(cfg_.discretization) + " discretization, " +
         scan_algorithm_name(cfg_.scan) + " scan";
}

MixerInfo mamba_mixer_info() {
  MixerInfo m;
  m.name = "mamba";
  m.doc = "Mamba's selective SSM block (S6): conv, input-dependent Δ, B, C, gated output";
  m.model_type = "mamba";
  m.hf_class = "MambaForCausalLM";
  m.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = MambaConfig::section().json_keys();
    return keys;
  };
  m.defaults = [] { return MambaConfig::section().write(MambaConfig{}); };
  m.check = [](const json& options, const MixerContext& ctx) {
    return MambaConfig::section().failures(MambaConfig::from(options, ctx));
  };
  m.create = [](const json& options, const MixerContext& ctx, Generator& gen) -> std::shared_ptr<Mixer> {
    return std::make_shared<Mamba>(MambaConfig::from(options, ctx), gen);
  };
  m.parameters = [](const json& options, const MixerContext& ctx) {
    // The tensors of the constructor: in_proj, conv1d, x_proj, dt_proj, A_log, D, out_proj.
    MambaConfig c = MambaConfig::from(options, ctx);
    const double d = double(c.d_model), di = double(c.expand) * d, n = double(c.d_state),
                 r = double(c.rank()), w = double(c.d_conv);
    return d * 2 * di + (c.use_bias ? 2 * di : 0) + di * w + (c.use_conv_bias ? di : 0) +
           di * (r + 2 * n) + r * di + di + di * n + di + di * d + (c.use_bias ? d : 0);
  };
  m.write_json = [](const json& options, const MixerContext& ctx, json& config) {
    MambaConfig c = MambaConfig::from(options, ctx);
    config["intermediate_size"] = c.inner();
    config["hidden_act"] = "silu";
    config["time_step_init_scheme"] = "random";
    config["rescale_prenorm_residual"] = false;
  };
  m.check_json = [](const json& config, const std::string& source) {
    if (config.contains("hidden_act"))
      SSM_CHECK(config.at("hidden_act") == "silu", source, ": hidden_act ",
                config.at("hidden_act").dump(), " is not supported (only \"silu\", as in Mamba)");
  };
  return m;
}

}  // namespace ssm::nn
