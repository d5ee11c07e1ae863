// The S4D mixer (nn/s4d.h): outputs and every gradient against the plain-PyTorch transcription of
// s4d.py (tools/s4d_reference.py fixture), a float64 gradcheck of the whole layer, the recurrent
// step and prefill against the convolution, the initialisations, bidirectional, dropout, the
// registry entry (parameter count, config.json), and the configurations it refuses.
#include "nn/s4d.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "nn/mixer.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "support/compare.h"
#include "support/errors.h"
#include "support/gradcheck.h"
#include "support/paths.h"

namespace ssm::nn {
namespace {

using testing::Tol;

void expect_error(const std::function<void()>& fn, const std::string& text) {
  std::string msg = testing::error_of(fn);
  EXPECT_NE(msg.find(text), std::string::npos) << "error: '" << msg << "', expected '" << text << "'";
}

S4dConfig small(LtiDiscretization d = LtiDiscretization::zoh, bool bidir = false,
                S4dInit init = S4dInit::lin, int64_t H = 4, int64_t N = 6) {
  S4dConfig c;
  c.d_model = H;
  c.d_state = N;
  c.dtype = DType::f64;
  c.discretization = d;
  c.bidirectional = bidir;
  c.causal = !bidir;
  c.init = init;
  return c;
}

// Steps long enough that the kernel reaches across the test's few positions: Δ in [0.02, 0.5].
void widen_steps(S4d& m, uint64_t seed) {
  NoGradGuard ng;
  Generator g(seed);
  Tensor u = Tensor::rand(m.log_dt.shape(), DType::f64, &g);
  m.log_dt.copy_(add(mul(u, std::log(0.5) - std::log(0.02)), std::log(0.02)));
}

Tensor randn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

// ---- against PyTorch --------------------------------------------------------------------------

TEST(S4dMixer, MatchesPyTorchReference) {
  safetensors::File f = safetensors::load(testing::tests_dir() + "/fixtures/nn/s4d.safetensors");
  auto cases = nlohmann::json::parse(f.metadata.at("cases"));
  ASSERT_EQ(cases.size(), 3u);
  for (const auto& c : cases) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    S4dConfig cfg = small(parse_lti_discretization(c.at("discretization")), c.at("bidirectional"),
                          S4dInit::lin, c.at("d_model"), c.at("d_state"));
    Generator gen(1);
    S4d m(cfg, gen);
    std::map<std::string, Tensor> params;
    for (const auto& [k, v] : f.tensors)
      if (k.rfind(name + ".param.", 0) == 0) params[k.substr(name.size() + 7)] = v;
    m.load_state_dict(params);
    Tensor x = f.tensors.at(name + ".x").clone().requires_grad_(true);
    Tensor y = m.forward(x);
    Tol tol{1e-11, 1e-9};
    EXPECT_CLOSE(y.detach(), f.tensors.at(name + ".y"), tol);
    y.backward(f.tensors.at(name + ".gy"));
    {
      SCOPED_TRACE("grad of x");
      EXPECT_CLOSE(x.grad(), f.tensors.at(name + ".grad.x"), tol);
    }
    for (const auto& [pname, p] : m.named_parameters()) {
      SCOPED_TRACE("grad of " + pname);
      ASSERT_TRUE(p.grad().defined());
      EXPECT_CLOSE(p.grad(), f.tensors.at(name + ".grad." + pname), tol);
    }
  }
}

// ---- float64 gradcheck of the whole layer ----------------------------------------------------

void gradcheck_layer(const S4dConfig& cfg) {
  Generator gen(3);
  S4d base(cfg, gen);
  widen_steps(base, 4);
  auto f = [&base](const std::vector<Tensor>& in) {
    S4d m(base);
    m.D = in[1];
    m.log_dt = in[2];
    m.C = in[3];
    m.log_A_real = in[4];
    m.A_imag = in[5];
    m.out_weight = in[6];
    m.out_bias = in[7];
    return std::vector<Tensor>{m.forward(in[0])};
  };
  std::vector<Tensor> in = {randn({1, 6, cfg.d_model}, 5), base.D, base.log_dt, base.C,
                            base.log_A_real, base.A_imag, base.out_weight, base.out_bias};
  std::string err = testing::gradcheck(f, in, std::vector<bool>(in.size(), true));
  EXPECT_EQ(err, "");
}

TEST(S4dMixer, GradcheckZoh) { gradcheck_layer(small(LtiDiscretization::zoh, false, S4dInit::lin, 3, 4)); }
TEST(S4dMixer, GradcheckBilinear) {
  gradcheck_layer(small(LtiDiscretization::bilinear, false, S4dInit::inv, 3, 4));
}
TEST(S4dMixer, GradcheckBidirectional) {
  gradcheck_layer(small(LtiDiscretization::zoh, true, S4dInit::lin, 2, 4));
}

// ---- recurrent form ---------------------------------------------------------------------------

void check_step(const S4dConfig& cfg) {
  Generator gen(7);
  S4d m(cfg, gen);
  widen_steps(m, 8);
  const int64_t B = 2, L = 9, H = cfg.d_model;
  Tensor x = randn({B, L, H}, 9);
  Tensor y = m.forward(x);
  Tol tol{1e-11, 1e-9};
  auto st = m.new_state(B);
  for (int64_t t = 0; t < L; ++t) {
    SCOPED_TRACE("step " + std::to_string(t));
    EXPECT_CLOSE(m.step(x.select(1, t), *st), y.select(1, t), tol);
  }
  // prefill of 5 positions, then steps
  auto st2 = m.new_state(B);
  Tensor yp = m.prefill(x.narrow(1, 0, 5), *st2);
  EXPECT_CLOSE(yp, y.narrow(1, 0, 5), tol);
  for (int64_t t = 5; t < L; ++t) {
    SCOPED_TRACE("step after prefill " + std::to_string(t));
    EXPECT_CLOSE(m.step(x.select(1, t), *st2), y.select(1, t), tol);
  }
}

TEST(S4dMixer, StepEqualsForwardZoh) {
  for (S4dInit init : {S4dInit::legs, S4dInit::inv, S4dInit::lin, S4dInit::real}) {
    SCOPED_TRACE(s4d_init_name(init));
    check_step(small(LtiDiscretization::zoh, false, init));
  }
}

TEST(S4dMixer, StepEqualsForwardBilinear) {
  check_step(small(LtiDiscretization::bilinear, false, S4dInit::lin));
  check_step(small(LtiDiscretization::bilinear, false, S4dInit::legs, 3, 8));
}

// ---- initialisation, bidirectional, dropout -----------------------------------------------------

TEST(S4dMixer, InitialisationsFollowHippo) {
  for (S4dInit init : {S4dInit::legs, S4dInit::inv, S4dInit::lin, S4dInit::real}) {
    SCOPED_TRACE(s4d_init_name(init));
    S4dConfig cfg = small(LtiDiscretization::zoh, false, init, 3, 8);
    Generator gen(2);
    S4d m(cfg, gen);
    auto lam = s4d_init(init, 8).to_vector<double>();
    auto lre = m.log_A_real.to_vector<double>(), lim = m.A_imag.to_vector<double>();
    for (int64_t h = 0; h < 3; ++h)
      for (size_t k = 0; k < 4; ++k) {
        EXPECT_NEAR(-std::exp(lre[size_t(h) * 4 + k]), lam[2 * k], 1e-12);
        EXPECT_NEAR(lim[size_t(h) * 4 + k], lam[2 * k + 1], 1e-12);
      }
    auto ldt = m.log_dt.to_vector<double>();
    for (double v : ldt) {
      EXPECT_GE(v, std::log(cfg.dt_min));
      EXPECT_LE(v, std::log(cfg.dt_max));
    }
    EXPECT_EQ(m.C.shape(), (Shape{3, 4, 2}));
    EXPECT_EQ(m.out_weight.shape(), (Shape{6, 3, 1}));
  }
}

TEST(S4dMixer, BidirectionalSeesBothWays) {
  S4dConfig cfg = small(LtiDiscretization::zoh, true);
  Generator gen(4);
  S4d m(cfg, gen);
  widen_steps(m, 5);
  EXPECT_EQ(m.C.shape(), (Shape{2, 4, 3, 2}));
  Tensor x = randn({1, 8, 4}, 6);
  Tensor y = m.forward(x);
  // Changing the last position changes the first output (anti-causal kernel), and a causal
  // layer's first output would not move.
  Tensor x2 = x.clone();
  x2.narrow(1, 7, 1).copy_(randn({1, 1, 4}, 7));
  Tensor d = sub(m.forward(x2), y).narrow(1, 0, 1);
  EXPECT_GT(max(abs(d)).item<double>(), 1e-6);
  expect_error([&] { m.new_state(1); }, "bidirectional layer cannot run step by step");
}

TEST(S4dMixer, DropoutOnlyWhileTraining) {
  S4dConfig cfg = small();
  cfg.dropout = 0.5;
  Generator gen(4);
  S4d m(cfg, gen);
  Tensor x = randn({2, 5, 4}, 1);
  m.eval();
  Tensor ye = m.forward(x);
  S4dConfig c0 = small();
  Generator gen0(4);
  S4d m0(c0, gen0);
  EXPECT_CLOSE(ye, m0.forward(x), (Tol{0, 0}));
  m.train();
  Tensor yt = m.forward(x);
  EXPECT_GT(max(abs(sub(yt, ye))).item<double>(), 1e-6);
}

// ---- registry ---------------------------------------------------------------------------------

TEST(S4dMixer, RegistryCountsAndRefuses) {
  const MixerInfo& info = mixer_info("s4d");
  MixerContext ctx;
  ctx.d_model = 8;
  ctx.dtype = DType::f64;
  Generator gen(1);
  for (bool bidir : {false, true}) {
    ctx.causal = !bidir;
    nlohmann::json o = {{"d_state", 10}, {"bidirectional", bidir}, {"init", "inv"}};
    EXPECT_TRUE(info.check(o, ctx).empty());
    auto m = info.create(o, ctx, gen);
    EXPECT_EQ(double(m->num_parameters()), info.parameters(o, ctx));
  }
  auto failure = [&](const nlohmann::json& o, bool causal, const std::string& key) {
    ctx.causal = causal;
    auto f = info.check(o, ctx);
    ASSERT_FALSE(f.empty()) << o.dump();
    EXPECT_EQ(f[0].key, key);
  };
  failure({{"d_state", 7}}, true, "d_state");
  failure({{"dt_min", 0.5}, {"dt_max", 0.1}}, true, "dt_min");
  failure({{"bidirectional", true}}, true, "bidirectional");
  failure({{"dropout", 1.0}}, true, "dropout");

  S4dConfig cfg = small();
  S4d m(cfg, gen);
  Tensor x = randn({1, 3, 4}, 1);
  expect_error([&] { m.forward(x, Tensor::zeros({1, 3}, DType::i64)); }, "packed sequences");
  expect_error([&] { m.forward(randn({1, 3, 5}, 1)); }, "expects (B, L, 4)");

  nlohmann::json mamba_dir = {{"conv_kernel", 4}};
  expect_error([&] { info.check_json(mamba_dir, "x/config.json"); }, "belongs to the mamba mixer");
  expect_error([&] { info.check_json({{"hidden_act", "silu"}}, "x/config.json"); }, "hidden_act");
}

}  // namespace
}  // namespace ssm::nn
