#include "nn/s5.h"

#include <cmath>
#include <optional>

#include "core/autograd.h"
#include "core/error.h"
#include "nn/hippo.h"
#include "ops/diag_scan.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/matmul.h"
#include "ops/matrix_exp.h"

namespace ssm::nn {

using schema::above;
using schema::at_least;
using schema::between;

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<S5Config>& S5Config::section() {
  static const schema::Section<S5Config> s = [] {
    schema::Section<S5Config> s("model");
    auto& d_state = s.add("d_state", &S5Config::d_state, at_least(1),
                          "full state size N (S5's P before halving); conj_sym stores N/2 "
                          "complex modes");
    d_state.json_name = "state_size";
    d_state.aliases = {"state_size", "ssm_size", "P"};
    s.add("conj_sym", &S5Config::conj_sym,
          "conjugate symmetry: store N/2 modes, read out 2 Re(C~x)")
        .json_name = "ssm_conj_sym";
    s.add("blocks", &S5Config::blocks, at_least(1),
          "J: HiPPO-N blocks of N/J states on the diagonal at initialisation")
        .json_name = "ssm_blocks";
    s.add_choice("discretization", &S5Config::discretization, {"zoh", "bilinear"},
                 "continuous -> discrete: zoh or bilinear")
        .json_name = "ssm_discretization";
    auto& dt_min = s.add("dt_min", &S5Config::dt_min, above(0),
                         "step initialisation: log_step ~ U[log dt_min, log dt_max] per mode");
    dt_min.json_name = "time_step_min";
    auto& dt_max = s.add("dt_max", &S5Config::dt_max, above(0),
                         "step initialisation upper bound; dt_min <= dt_max");
    dt_max.json_name = "time_step_max";
    s.add("clip_eigs", &S5Config::clip_eigs,
          "keep Re(Lambda) <= -1e-4 (S5's left-half-plane clip; for long autoregressive use)")
        .json_name = "ssm_clip_eigs";
    s.add("bidirectional", &S5Config::bidirectional,
          "a second scan from the end, read out by C2 (not in causal models)")
        .json_name = "ssm_bidirectional";
    s.add("dropout", &S5Config::dropout, between(0, 1),
          "dropout after the GELU and on the output (S5's p_dropout)")
        .json_name = "ssm_dropout";
    s.check([](const S5Config& c, schema::Failures& f) {
      if (c.d_state % c.blocks != 0)
        f.push_back({"d_state", {"blocks"},
                     "must be a multiple of model.blocks (" + std::to_string(c.blocks) + "), got " +
                         std::to_string(c.d_state)});
      else if (c.conj_sym && (c.d_state / c.blocks) % 2 != 0)
        f.push_back({"d_state", {"blocks", "conj_sym"},
                     "with conj_sym each block's size d_state / blocks must be even, got " +
                         std::to_string(c.d_state) + " / " + std::to_string(c.blocks)});
      if (c.dt_min > c.dt_max)
        f.push_back({"dt_min", {"dt_max"},
                     "must be <= model.dt_max (" + schema::format_number(c.dt_max) + "), got " +
                         schema::format_number(c.dt_min)});
    });
    return s;
  }();
  return s;
}

S5Config S5Config::from(const json& options, const MixerContext& ctx) {
  S5Config c = section().read_own(options);
  c.d_model = ctx.d_model;
  c.dtype = ctx.dtype;
  return c;
}

// ---- initialisation -----------------------------------------------------------------------------

namespace {

// JAX's lecun_normal: a normal truncated to two standard deviations, scaled so that the
// variance is 1/fan_in (0.87962566 is the truncated unit normal's standard deviation).
std::vector<double> lecun_normal(int64_t n, int64_t fan_in, Generator& gen) {
  const double sd = std::sqrt(1.0 / double(fan_in)) / 0.87962566103423978;
  std::vector<double> out;
  out.reserve(size_t(n));
  while (int64_t(out.size()) < n) {
    for (double z : Tensor::randn({std::max<int64_t>(n, 16)}, DType::f64, &gen).to_vector<double>()) {
      if (std::abs(z) <= 2.0 && int64_t(out.size()) < n) out.push_back(z * sd);
    }
  }
  return out;
}

// C̃ = C V for C (H, N) complex (lecun_normal real and imaginary parts) and V (N, M, 2).
Tensor init_c(int64_t H, int64_t N, int64_t M, const std::vector<double>& V, Generator& gen) {
  std::vector<double> c = lecun_normal(H * N * 2, N, gen), out(size_t(H * M * 2), 0.0);
  for (int64_t h = 0; h < H; ++h)
    for (int64_t n = 0; n < N; ++n) {
      double cr = c[size_t((h * N + n) * 2)], ci = c[size_t((h * N + n) * 2 + 1)];
      for (int64_t m = 0; m < M; ++m) {
        double vr = V[size_t((n * M + m) * 2)], vi = V[size_t((n * M + m) * 2 + 1)];
        out[size_t((h * M + m) * 2)] += cr * vr - ci * vi;
        out[size_t((h * M + m) * 2 + 1)] += cr * vi + ci * vr;
      }
    }
  return Tensor::from_vector(out, {H, M, 2});
}

}  // namespace

S5::S5(const S5Config& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t H = cfg.d_model, N = cfg.d_state, M = cfg.modes();
  SSM_CHECK(H > 0 && N > 0 && cfg.blocks > 0 && N % cfg.blocks == 0 &&
                (!cfg.conj_sym || (N / cfg.blocks) % 2 == 0),
            "S5: need d_model > 0 and d_state a multiple of blocks (of 2 * blocks with conj_sym), "
            "got d_model ", H, ", d_state ", N, ", blocks ", cfg.blocks);
  SSM_CHECK(cfg.dt_min > 0 && cfg.dt_min <= cfg.dt_max, "S5: need 0 < dt_min <= dt_max, got ",
            cfg.dt_min, " and ", cfg.dt_max);
  const DType dt = cfg.dtype;
  S5Init init = s5_init(N, cfg.blocks, cfg.conj_sym);
  Lambda_re = register_parameter("Lambda_re", init.Lambda.select(1, 0).contiguous().to(dt));
  Lambda_im = register_parameter("Lambda_im", init.Lambda.select(1, 1).contiguous().to(dt));
  {  // B̃ = V⁻¹ B, B (N, H) ~ lecun_normal (fan_in N, as JAX reads a (N, H) shape)
    std::vector<double> b = lecun_normal(N * H, N, gen), vinv = init.Vinv.to_vector<double>();
    std::vector<double> out(size_t(M * H * 2), 0.0);
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double vr = vinv[size_t((m * N + n) * 2)], vi = vinv[size_t((m * N + n) * 2 + 1)];
        for (int64_t h = 0; h < H; ++h) {
          out[size_t((m * H + h) * 2)] += vr * b[size_t(n * H + h)];
          out[size_t((m * H + h) * 2 + 1)] += vi * b[size_t(n * H + h)];
        }
      }
    B = register_parameter("B", Tensor::from_vector(out, {M, H, 2}).to(dt));
  }
  std::vector<double> v = init.V.to_vector<double>();
  if (cfg.bidirectional) {
    C1 = register_parameter("C1", init_c(H, N, M, v, gen).to(dt));
    C2 = register_parameter("C2", init_c(H, N, M, v, gen).to(dt));
  } else {
    C = register_parameter("C", init_c(H, N, M, v, gen).to(dt));
  }
  D = register_parameter("D", Tensor::randn({H}, DType::f64, &gen).to(dt));
  log_step = register_parameter(
      "log_step", Tensor::uniform({M, 1}, std::log(cfg.dt_min), std::log(cfg.dt_max), DType::f64, &gen)
                      .to(dt));
  out2 = register_module("out2", std::make_shared<Linear>(H, H, true, gen, dt));
  {
    NoGradGuard ng;
    out2->weight.copy_(Tensor::from_vector(lecun_normal(H * H, H, gen), {H, H}));
    out2->bias.copy_(Tensor::zeros({H}, DType::f64));
  }
}

// ---- forward ------------------------------------------------------------------------------------

// Complex arithmetic on real pairs given as separate (re, im) tensors: these stay differentiable
// through the elementwise ops. exp(ΔΛ) comes from the 2 x 2 real matrix exponential
// exp([[a, -b], [b, a]]) = e^a [[cos b, -sin b], [sin b, cos b]].
void S5::discretize(Tensor& lambda_bar, Tensor& b_bar) const {
  const int64_t M = cfg_.modes();
  Tensor a = cfg_.clip_eigs ? clamp(Lambda_re, std::nullopt, -1e-4) : Lambda_re;  // (M)
  Tensor b = Lambda_im;
  Tensor step = exp(log_step.view({M}));
  Tensor lr, li, qr, qi;  // Λ̄ and the factor q of B̄ = q B̃
  if (cfg_.discretization == LtiDiscretization::zoh) {
    Tensor xa = mul(a, step), xb = mul(b, step);
    Tensor m = stack({stack({xa, neg(xb)}, 1), stack({xb, xa}, 1)}, 1);  // (M, 2, 2)
    Tensor e = matrix_exp(m);
    lr = e.select(2, 0).select(1, 0);
    li = e.select(2, 0).select(1, 1);
    // q = (Λ̄ - 1) / Λ
    Tensor nr = sub(lr, 1.0), den = add(mul(a, a), mul(b, b));
    qr = div(add(mul(nr, a), mul(li, b)), den);
    qi = div(sub(mul(li, a), mul(nr, b)), den);
  } else {
    // 1 / (c + id) with c = 1 - Δa/2, d = -Δb/2; Λ̄ = (1 + ΔΛ/2) / (c + id); q = Δ / (c + id)
    Tensor ha = mul(mul(a, step), 0.5), hb = mul(mul(b, step), 0.5);
    Tensor c = sub(scalar_like(1.0, ha), ha), d = neg(hb);
    Tensor den = add(mul(c, c), mul(d, d));
    Tensor ir = div(c, den), ii = div(neg(d), den);
    Tensor er = add(ha, 1.0), ei = hb;
    lr = sub(mul(er, ir), mul(ei, ii));
    li = add(mul(er, ii), mul(ei, ir));
    qr = mul(ir, step);
    qi = mul(ii, step);
  }
  lambda_bar = stack({lr, li}, 1);  // (M, 2)
  Tensor br = B.select(2, 0), bi = B.select(2, 1);  // (M, H)
  Tensor qr2 = qr.unsqueeze(1), qi2 = qi.unsqueeze(1);
  b_bar = stack({sub(mul(qr2, br), mul(qi2, bi)), add(mul(qr2, bi), mul(qi2, br))}, 2);
}

Tensor S5::input_weight(const Tensor& b_bar) {
  const int64_t M = b_bar.size(0), H = b_bar.size(1);
  return b_bar.permute({0, 2, 1}).reshape({2 * M, H});
}

Tensor S5::output_weight() const {
  Tensor c = cfg_.bidirectional ? cat({C1, C2}, 1) : C;  // (H, M', 2)
  const double s = cfg_.conj_sym ? 2.0 : 1.0;
  Tensor sign = Tensor::from_vector(std::vector<double>{s, -s}, {2}).to(c.dtype()).to(c.device());
  return mul(c, sign).reshape({c.size(0), 2 * c.size(1)});
}

Tensor S5::activation(const Tensor& y) const {
  Tensor g = gelu(y, GeluApprox::tanh);
  if (cfg_.dropout > 0) g = dropout(g, cfg_.dropout, training());
  Tensor out = mul(g, sigmoid(out2->forward(g)));
  if (cfg_.dropout > 0) out = dropout(out, cfg_.dropout, training());
  return out;
}

Tensor S5::mix(const Tensor& x, S5State* state, const Tensor& seq_start) const {
  SSM_CHECK(x.dim() == 3 && x.size(2) == cfg_.d_model, "S5: expects (B, L, ", cfg_.d_model,
            "), got ", describe(x));
  const int64_t Bn = x.size(0), L = x.size(1), M = cfg_.modes();
  Tensor u = x.dtype() == Lambda_re.dtype() ? x : x.to(Lambda_re.dtype());
  Tensor lambda_bar, b_bar;
  discretize(lambda_bar, b_bar);
  Tensor bu = linear(u, input_weight(b_bar)).view({Bn, L, M, 2});  // B̄u
  Tensor xs = diag_scan(lambda_bar, bu, false, seq_start);
  if (state) {
    NoGradGuard ng;
    state->x.copy_(xs.select(1, L - 1));
  }
  if (cfg_.bidirectional) xs = cat({xs, diag_scan(lambda_bar, bu, true, seq_start)}, 2);
  Tensor y = add(linear(xs.view({Bn, L, xs.size(2) * 2}), output_weight()), mul(u, D));
  Tensor out = activation(y);
  return out.dtype() == x.dtype() ? out : out.to(x.dtype());
}

Tensor S5::forward(const Tensor& x, const Tensor& seq_start) const { return mix(x, nullptr, seq_start); }

std::unique_ptr<MixerState> S5::new_state(int64_t batch) const {
  SSM_CHECK(!cfg_.bidirectional, "S5: a bidirectional layer cannot run step by step");
  NoGradGuard ng;
  auto s = std::make_unique<S5State>();
  s->x = Tensor::zeros({batch, cfg_.modes(), 2}, Lambda_re.dtype(), Lambda_re.device());
  Tensor b_bar;
  discretize(s->lambda, b_bar);
  s->w_in = input_weight(b_bar).contiguous();
  s->w_out = output_weight().contiguous();
  return s;
}

Tensor S5::prefill(const Tensor& x, MixerState& state) const {
  SSM_CHECK(!cfg_.bidirectional, "S5: a bidirectional layer cannot run step by step");
  return mix(x, &dynamic_cast<S5State&>(state), Tensor());
}

// One position is a scan of two: the carried state, then B̄u.
Tensor S5::step(const Tensor& x, MixerState& state) const {
  SSM_CHECK(x.dim() == 2 && x.size(1) == cfg_.d_model, "S5::step: expects (B, ", cfg_.d_model,
            "), got ", describe(x));
  S5State& s = dynamic_cast<S5State&>(state);
  NoGradGuard ng;
  const int64_t Bn = x.size(0), M = cfg_.modes();
  Tensor u = x.dtype() == Lambda_re.dtype() ? x : x.to(Lambda_re.dtype());
  Tensor bu = linear(u, s.w_in).view({Bn, 1, M, 2});
  Tensor xs = diag_scan(s.lambda, cat({s.x.unsqueeze(1), bu}, 1)).select(1, 1);  // (B, M, 2)
  s.x.copy_(xs);
  Tensor y = add(linear(xs.reshape({Bn, 2 * M}), s.w_out), mul(u, D));
  Tensor out = activation(y);
  return out.dtype() == x.dtype() ? out : out.to(x.dtype());
}

// 2 FLOPs per multiply-add: B̄u (2M x H real), the scan (a complex multiply-add, 8), the readout
// (H x 2M', M' = 2M bidirectional), D u, and out2 (H x H); GELU and the gate ignored.
double S5::flops_per_token() const {
  const double H = double(cfg_.d_model), M = double(cfg_.modes());
  const double dirs = cfg_.bidirectional ? 2 : 1;
  return 2 * (2 * M * H) + dirs * 8 * M + 2 * (dirs * 2 * M * H) + 2 * H + 2 * H * H;
}

int64_t S5::state_elements() const { return 2 * cfg_.modes(); }

std::string S5::summary() const {
  return "d_state " + std::to_string(cfg_.d_state) + " (" + std::to_string(cfg_.modes()) +
         " complex modes" + (cfg_.conj_sym ? ", conjugate symmetric" : "") + "), " +
         std::to_string(cfg_.blocks) + " block" + (cfg_.blocks == 1 ? "" : "s") + ", " +
         lti_discretization_name(cfg_.discretization) + " discretization" +
         (cfg_.bidirectional ? ", bidirectional" : "") + ", parallel scan";
}

MixerInfo s5_mixer_info() {
  MixerInfo m;
  m.name = "s5";
  m.doc = "S5 (lindermanlab/S5): MIMO diagonal SSM by parallel scan, HiPPO-N init, half-GLU output";
  m.model_type = "ssm";
  m.hf_class = "SSMForCausalLM";
  m.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = S5Config::section().json_keys();
    return keys;
  };
  m.defaults = [] { return S5Config::section().write(S5Config{}); };
  m.check = [](const json& options, const MixerContext& ctx) {
    S5Config c = S5Config::from(options, ctx);
    schema::Failures f = S5Config::section().failures(c);
    if (c.bidirectional && ctx.causal)
      f.push_back({"bidirectional", {},
                   "must be false in a causal model (a language model): the reverse scan reads "
                   "later positions"});
    return f;
  };
  m.create = [](const json& options, const MixerContext& ctx, Generator& gen) -> std::shared_ptr<Mixer> {
    return std::make_shared<S5>(S5Config::from(options, ctx), gen);
  };
  m.parameters = [](const json& options, const MixerContext& ctx) {
    // Lambda_re, Lambda_im, log_step (M each), B (M H 2), C or C1 + C2 (H M 2 each), D, out2.
    S5Config c = S5Config::from(options, ctx);
    const double H = double(c.d_model), M = double(c.modes());
    return 3 * M + 2 * M * H + (c.bidirectional ? 2 : 1) * 2 * H * M + H + H * H + H;
  };
  m.write_json = [](const json&, const MixerContext&, json& config) {
    config["ssm_activation"] = "half_glu1";
    config["ssm_c_init"] = "trunc_standard_normal";
  };
  m.check_json = [](const json& config, const std::string& source) {
    if (config.contains("ssm_activation"))
      SSM_CHECK(config.at("ssm_activation") == "half_glu1", source, ": ssm_activation ",
                config.at("ssm_activation").dump(), " is not supported (only \"half_glu1\", S5's)");
  };
  return m;
}

}  // namespace ssm::nn
