#include "nn/s4d.h"

#include <algorithm>
#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/glu.h"
#include "ops/join.h"
#include "ops/long_conv.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/vandermonde.h"

namespace ssm::nn {

using schema::above;
using schema::at_least;
using schema::between;

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<S4dConfig>& S4dConfig::section() {
  static const schema::Section<S4dConfig> s = [] {
    schema::Section<S4dConfig> s("model");
    auto& d_state = s.add("d_state", &S4dConfig::d_state, at_least(2),
                          "full SSM state size N per channel (even: N/2 complex modes are stored)");
    d_state.json_name = "state_size";
    d_state.aliases = {"state_dim", "state_size"};
    s.add_choice("init", &S4dConfig::init, {"legs", "inv", "lin", "real"},
                 "initialisation of A: legs (S4D-LegS), inv (S4D-Inv), lin (S4D-Lin, s4d.py's), "
                 "real (S4D-Real)")
        .json_name = "ssm_init";
    s.add_choice("discretization", &S4dConfig::discretization, {"zoh", "bilinear"},
                 "continuous -> discrete SSM: zoh (s4d.py's) or bilinear")
        .json_name = "ssm_discretization";
    auto& dt_min = s.add("dt_min", &S4dConfig::dt_min, above(0),
                         "Δ initialisation: log-uniform in [dt_min, dt_max]");
    dt_min.json_name = "time_step_min";
    dt_min.aliases = {"time_step_min"};
    auto& dt_max = s.add("dt_max", &S4dConfig::dt_max, above(0),
                         "Δ initialisation upper bound; dt_min <= dt_max");
    dt_max.json_name = "time_step_max";
    dt_max.aliases = {"time_step_max"};
    s.add("bidirectional", &S4dConfig::bidirectional,
          "a causal and an anti-causal kernel (sees the whole sequence: not for language models)")
        .json_name = "ssm_bidirectional";
    s.add("dropout", &S4dConfig::dropout, between(0, 1),
          "dropout after the GELU, one mask value per (sequence, channel) as s4d.py's DropoutNd; "
          "training only; < 1")
        .json_name = "ssm_dropout";
    s.check([](const S4dConfig& c, schema::Failures& f) {
      if (c.d_state % 2 != 0)
        f.push_back({"d_state", {},
                     "must be even (N/2 complex modes, each with its conjugate), got " +
                         std::to_string(c.d_state)});
      if (c.dt_min > c.dt_max)
        f.push_back({"dt_min", {"dt_max"},
                     "must be <= model.dt_max (" + schema::format_number(c.dt_max) + "), got " +
                         schema::format_number(c.dt_min)});
      if (c.dropout >= 1)
        f.push_back({"dropout", {}, "must be < 1, got " + schema::format_number(c.dropout)});
      if (c.bidirectional && c.causal)
        f.push_back({"bidirectional", {},
                     "a bidirectional S4D reads later positions, which this architecture (a "
                     "causal language model) forbids; set model.bidirectional: false"});
    });
    return s;
  }();
  return s;
}

S4dConfig S4dConfig::from(const json& options, const MixerContext& ctx) {
  S4dConfig c = section().read_own(options);
  c.d_model = ctx.d_model;
  c.dtype = ctx.dtype;
  c.causal = ctx.causal;
  return c;
}

namespace {

// kernel.* under s4d.py's names.
class Kernel : public Module {
 public:
  Tensor log_dt, C, log_A_real, A_imag;
  void add(const char* name, Tensor& field, Tensor value) { field = register_parameter(name, value); }
};

// output_linear.0: the 1x1 Conv1d (2H, H, 1) with bias, torch's default initialisation.
class PointwiseConv : public Module {
 public:
  PointwiseConv(int64_t in, int64_t out, Generator& gen, DType dtype) {
    double bound = 1.0 / std::sqrt(double(in));  // fan_in = in * kernel size 1
    weight = register_parameter("weight", Tensor::uniform({out, in, 1}, -bound, bound, dtype, &gen));
    bias = register_parameter("bias", Tensor::uniform({out}, -bound, bound, dtype, &gen));
  }
  Tensor weight, bias;
};

class Sequential : public Module {
 public:
  explicit Sequential(std::shared_ptr<Module> first) { register_module("0", std::move(first)); }
};

}  // namespace

S4d::S4d(const S4dConfig& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t H = cfg.d_model, N = cfg.d_state, M = cfg.modes();
  SSM_CHECK(H > 0 && N >= 2 && N % 2 == 0, "S4D: need d_model > 0 and an even d_state >= 2, got ",
            H, " and ", N);
  SSM_CHECK(cfg.dt_min > 0 && cfg.dt_min <= cfg.dt_max, "S4D: need 0 < dt_min <= dt_max, got ",
            cfg.dt_min, " and ", cfg.dt_max);
  const DType dt = cfg.dtype;
  D = register_parameter("D", Tensor::randn({H}, DType::f64, &gen).to(dt));
  auto k = register_module("kernel", std::make_shared<Kernel>());
  {
    Tensor u = Tensor::rand({H}, DType::f64, &gen);
    double lo = std::log(cfg.dt_min), hi = std::log(cfg.dt_max);
    k->add("log_dt", log_dt, add(mul(u, hi - lo), lo).to(dt));
  }
  // torch.randn of a complex dtype: real and imaginary parts each of variance 1/2.
  Shape cshape = cfg.bidirectional ? Shape{2, H, M, 2} : Shape{H, M, 2};
  k->add("C", C, mul(Tensor::randn(cshape, DType::f64, &gen), std::sqrt(0.5)).to(dt));
  std::vector<double> lam = s4d_init(cfg.init, N).to_vector<double>();  // (M, 2)
  std::vector<double> lre(size_t(H * M)), lim(size_t(H * M));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t m = 0; m < M; ++m) {
      lre[size_t(h * M + m)] = std::log(-lam[size_t(2 * m)]);
      lim[size_t(h * M + m)] = lam[size_t(2 * m + 1)];
    }
  k->add("log_A_real", log_A_real, Tensor::from_vector(lre, {H, M}).to(dt));
  k->add("A_imag", A_imag, Tensor::from_vector(lim, {H, M}).to(dt));
  auto conv = std::make_shared<PointwiseConv>(H, 2 * H, gen, dt);
  register_module("output_linear", std::make_shared<Sequential>(conv));
  out_weight = conv->weight;
  out_bias = conv->bias;
}

Tensor S4d::C4() const {
  const int64_t H = cfg_.d_model, M = cfg_.modes();
  return cfg_.bidirectional ? C : C.view({1, H, M, 2});
}

Tensor S4d::A() const {
  return stack({neg(exp(log_A_real)), A_imag}, -1);  // (H, M, 2): -exp(log_A_real) + i A_imag
}

Tensor S4d::kernel(int64_t L) const {
  return vandermonde(C4(), exp(log_dt), A(), L, cfg_.discretization);
}

Tensor S4d::head(const Tensor& y) const {
  const int64_t H = cfg_.d_model;
  return glu(linear(y, out_weight.view({2 * H, H}), out_bias), -1);  // (..., 2H) -> (..., H)
}

Tensor S4d::forward(const Tensor& x, const Tensor& seq_start) const {
  SSM_CHECK(x.dim() == 3 && x.size(2) == cfg_.d_model, "S4D: expects (B, L, ", cfg_.d_model,
            "), got ", describe(x));
  SSM_CHECK(!seq_start.defined(),
            "S4D: packed sequences (seq_start) are not supported: one long convolution runs across "
            "the whole row, so a packed sequence would see the one before it; train without "
            "packing (dataset packing off) for this mixer");
  const int64_t B = x.size(0), L = x.size(1), H = cfg_.d_model;
  // The layer computes in its parameters' dtype (the FFT takes float32 / float64).
  Tensor u = x.to(D.dtype());  // (B, L, H)
  Tensor K = kernel(L);        // (channels, H, L)
  Tensor y = long_conv(u, K.select(0, 0), D, cfg_.bidirectional ? K.select(0, 1) : Tensor());
  if (cfg_.dropout > 0 && training()) {
    // One mask value per (sequence, channel), shared over time (s4d.py's DropoutNd, tie=True).
    Tensor keep = dropout(Tensor::ones({B, 1, H}, y.dtype(), y.device()), cfg_.dropout, true);
    y = mul(y, keep);
  }
  return head(y).to(x.dtype());
}

std::unique_ptr<MixerState> S4d::new_state(int64_t batch) const {
  SSM_CHECK(!cfg_.bidirectional,
            "S4D: a bidirectional layer cannot run step by step (its anti-causal kernel reads "
            "positions not yet seen)");
  NoGradGuard ng;
  auto s = std::make_unique<S4dState>();
  s->x = Tensor::zeros({batch, cfg_.d_model, cfg_.modes(), 2}, D.dtype(), D.device());
  VandermondeRecurrence r = vandermonde_recurrence(C4(), exp(log_dt), A(), cfg_.discretization);
  s->Ab = r.Ab;
  s->CB = r.CB.select(0, 0);
  return s;
}

namespace {

// One recurrence step of the state alone: x = Ā x + u, complex by (re, im) pairs.
// x: (B, H, M, 2) updated in place, u: (B, H), Ab: (H, M, 2).
void advance(Tensor& x, const Tensor& u, const Tensor& Ab) {
  Tensor xr = x.select(3, 0), xi = x.select(3, 1);        // (B, H, M)
  Tensor ar = Ab.select(2, 0), ai = Ab.select(2, 1);      // (H, M)
  Tensor nr = add(sub(mul(ar, xr), mul(ai, xi)), u.unsqueeze(2));
  Tensor ni = add(mul(ar, xi), mul(ai, xr));
  x.copy_(stack({nr, ni}, 3));
}

}  // namespace

Tensor S4d::prefill(const Tensor& x, MixerState& state) const {
  S4dState& s = dynamic_cast<S4dState&>(state);
  Tensor y = forward(x);
  NoGradGuard ng;
  Tensor u = x.to(D.dtype());  // (B, L, H)
  for (int64_t t = 0; t < x.size(1); ++t) advance(s.x, u.select(1, t), s.Ab);
  return y;
}

Tensor S4d::step(const Tensor& x, MixerState& state) const {
  SSM_CHECK(x.dim() == 2 && x.size(1) == cfg_.d_model, "S4D::step: expects (B, ", cfg_.d_model,
            "), got ", describe(x));
  S4dState& s = dynamic_cast<S4dState&>(state);
  NoGradGuard ng;
  Tensor u = x.to(D.dtype());  // (B, H)
  advance(s.x, u, s.Ab);
  // 2 Re(sum_m CB x) + D u
  Tensor re = sub(mul(s.CB.select(2, 0), s.x.select(3, 0)), mul(s.CB.select(2, 1), s.x.select(3, 1)));
  Tensor y = add(mul(sum(re, {2}), 2.0), mul(u, D));
  return head(gelu(y)).to(x.dtype());
}

// Forward FLOPs per token as the recurrence counts them: the state update and read-out (about 8
// per complex mode), the skip, and the 1x1 conv (2 per multiply-add); GELU and GLU ignored. (The
// convolution form's FFTs cost O(H log L) per token instead of the recurrence's O(H N).)
double S4d::flops_per_token() const {
  const double H = double(cfg_.d_model), M = double(cfg_.modes());
  return 8 * H * M + 2 * H + 2 * H * 2 * H;
}

int64_t S4d::state_elements() const { return cfg_.d_model * cfg_.modes() * 2; }

std::string S4d::summary() const {
  return "d_state " + std::to_string(cfg_.d_state) + " (" + std::to_string(cfg_.modes()) +
         " complex modes), init " + s4d_init_name(cfg_.init) + ", " +
         lti_discretization_name(cfg_.discretization) + " discretization" +
         (cfg_.bidirectional ? ", bidirectional" : "") + ", FFT convolution";
}

MixerInfo s4d_mixer_info() {
  MixerInfo m;
  m.name = "s4d";
  m.doc = "S4D: diagonal SSM, Vandermonde kernel, FFT convolution, GELU, 1x1 conv + GLU";
  m.model_type = "ssm";
  m.hf_class = "SSMForCausalLM";
  m.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = S4dConfig::section().json_keys();
    return keys;
  };
  m.defaults = [] { return S4dConfig::section().write(S4dConfig{}); };
  m.check = [](const json& options, const MixerContext& ctx) {
    return S4dConfig::section().failures(S4dConfig::from(options, ctx));
  };
  m.create = [](const json& options, const MixerContext& ctx, Generator& gen) -> std::shared_ptr<Mixer> {
    return std::make_shared<S4d>(S4dConfig::from(options, ctx), gen);
  };
  m.parameters = [](const json& options, const MixerContext& ctx) {
    // D, log_dt; C; log_A_real, A_imag; output_linear.0 weight and bias.
    S4dConfig c = S4dConfig::from(options, ctx);
    const double H = double(c.d_model), M = double(c.modes());
    return 2 * H + double(c.channels()) * H * M * 2 + 2 * H * M + 2 * H * H + 2 * H;
  };
  m.write_json = [](const json&, const MixerContext&, json& config) {
    config["hidden_act"] = "gelu";
  };
  m.check_json = [](const json& config, const std::string& source) {
    if (config.contains("hidden_act"))
      SSM_CHECK(config.at("hidden_act") == "gelu", source, ": hidden_act ",
                config.at("hidden_act").dump(), " is not supported by the s4d mixer (only \"gelu\")");
    // A config.json written for another mixer (its own keys present) is refused by name.
    std::vector<std::string> own;
    for (const schema::Key& k : S4dConfig::section().json_keys()) own.push_back(k.json_name);
    for (const MixerInfo& other : mixers()) {
      if (other.name == "s4d") continue;
      for (const schema::Key& k : other.keys()) {
        if (k.json_name.empty() || std::find(own.begin(), own.end(), k.json_name) != own.end())
          continue;
        SSM_CHECK(!config.contains(k.json_name), source, ": key \"", k.json_name,
                  "\" belongs to the ", other.name, " mixer, not s4d: this config.json describes ",
                  "another variant (check ssm_mixer)");
      }
    }
  };
  return m;
}

}  // namespace ssm::nn
