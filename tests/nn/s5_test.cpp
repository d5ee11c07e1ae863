// The S5 mixer: outputs and every gradient against the plain-PyTorch transcription of S5
// (tools/s5_reference.py, fixture by tools/make_s5_fixture.py) for each variant, a float64
// gradcheck of the whole layer (input and every parameter), step == forward, prefill, the
// J-block initialisation, packed sequences, parameter counts and the config checks.
#include "nn/s5.h"

#include <gtest/gtest.h>

#include <map>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "nn/hippo.h"
#include "ops/join.h"
#include "support/compare.h"
#include "support/gradcheck.h"
#include "support/paths.h"

namespace ssm::nn {
namespace {

using testing::Tol;

std::shared_ptr<S5> make(const json& options, int64_t H = 4, uint64_t seed = 1, bool causal = true) {
  MixerContext ctx{.d_model = H, .n_layer = 1, .dtype = DType::f64, .causal = causal};
  Generator gen(seed);
  return std::dynamic_pointer_cast<S5>(s5_mixer_info().create(options, ctx, gen));
}

// The model-section options of a fixture case's config.json keys.
json options_of(const json& c) {
  return {{"d_state", c.at("state_size")},
          {"conj_sym", c.at("ssm_conj_sym")},
          {"discretization", c.at("ssm_discretization")},
          {"clip_eigs", c.at("ssm_clip_eigs")},
          {"bidirectional", c.at("ssm_bidirectional")}};
}

TEST(S5Fixture, MatchesPyTorchReference) {
  safetensors::File f = safetensors::load(testing::tests_dir() + "/fixtures/nn/s5.safetensors");
  json cases = json::parse(f.metadata.at("cases"));
  ASSERT_EQ(cases.size(), 6u);
  for (const json& c : cases) {
    const std::string name = c.at("name");
    SCOPED_TRACE(name);
    auto m = make(options_of(c.at("config")), c.at("config").at("hidden_size"));
    std::map<std::string, Tensor> params;
    const std::string pre = name + ".param.";
    for (const auto& [k, t] : f.tensors)
      if (k.rfind(pre, 0) == 0) params[k.substr(pre.size())] = t;
    m->load_state_dict(params);
    Tensor x = f.tensors.at(name + ".x").clone().requires_grad_(true);
    Tensor rst = f.tensors.count(name + ".seq_start") ? f.tensors.at(name + ".seq_start") : Tensor();
    Tensor out = m->forward(x, rst);
    EXPECT_CLOSE(out.detach(), f.tensors.at(name + ".out"), (Tol{1e-10, 1e-9}));
    out.backward(f.tensors.at(name + ".gout"));
    EXPECT_CLOSE(x.grad(), f.tensors.at(name + ".gx"), (Tol{1e-10, 1e-9}));
    for (const auto& [pname, p] : m->named_parameters()) {
      SCOPED_TRACE(pname);
      ASSERT_TRUE(p.grad().defined());
      EXPECT_CLOSE(p.grad(), f.tensors.at(name + ".grad." + pname), (Tol{1e-10, 1e-9}));
    }
  }
}

// Central differences of <forward(x), v> in every parameter element, against autograd.
void check_parameter_gradients(S5& m, const Tensor& x, const Tensor& rst = Tensor()) {
  Generator g(9);
  Tensor v = Tensor::randn({x.size(0), x.size(1), x.size(2)}, DType::f64, &g);
  m.zero_grad();
  m.forward(x, rst).backward(v);
  auto loss = [&] {
    NoGradGuard ng;
    std::vector<double> y = m.forward(x, rst).to_vector<double>(), w = v.to_vector<double>();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * w[i];
    return s;
  };
  const double eps = 1e-6;
  for (auto& [name, p] : m.named_parameters()) {
    SCOPED_TRACE(name);
    std::vector<double> analytic = p.grad().to_vector<double>();
    double* data = p.data<double>();
    for (int64_t i = 0; i < p.numel(); ++i) {
      double keep = data[i];
      data[i] = keep + eps;
      double up = loss();
      data[i] = keep - eps;
      double down = loss();
      data[i] = keep;
      double numeric = (up - down) / (2 * eps);
      EXPECT_NEAR(analytic[size_t(i)], numeric, 1e-6 + 1e-5 * std::abs(numeric)) << "element " << i;
    }
  }
}

TEST(S5Gradcheck, WholeLayerFloat64) {
  Generator g(2);
  for (const json& o : {json{{"d_state", 6}}, json{{"d_state", 4}, {"discretization", "bilinear"}},
                        json{{"d_state", 4}, {"bidirectional", true}}, json{{"d_state", 3}, {"conj_sym", false}}}) {
    SCOPED_TRACE(o.dump());
    auto m = make(o, 3, 5, false);
    Tensor x = Tensor::randn({2, 5, 3}, DType::f64, &g);
    check_parameter_gradients(*m, x);
    auto f = [&](const std::vector<Tensor>& in) { return std::vector<Tensor>{m->forward(in[0])}; };
    EXPECT_EQ(testing::gradcheck(f, {x}, {true}), "");
  }
  auto m = make({{"d_state", 4}}, 3);
  Tensor rst = Tensor::from_vector(std::vector<int64_t>{1, 0, 1, 0, 0, 1, 0, 0, 0, 1}, {2, 5});
  check_parameter_gradients(*m, Tensor::randn({2, 5, 3}, DType::f64, &g), rst);
}

TEST(S5Step, StepAndPrefillEqualForward) {
  Generator g(3);
  for (const json& o : {json{{"d_state", 8}}, json{{"d_state", 6}, {"discretization", "bilinear"}},
                        json{{"d_state", 5}, {"conj_sym", false}, {"clip_eigs", true}}}) {
    SCOPED_TRACE(o.dump());
    auto m = make(o, 6);
    m->eval();
    const int64_t B = 2, L = 9, P = 4;
    Tensor x = Tensor::randn({B, L, 6}, DType::f64, &g);
    Tensor full;
    {
      NoGradGuard ng;
      full = m->forward(x);
    }
    auto st = m->new_state(B);
    std::vector<Tensor> outs;
    for (int64_t t = 0; t < L; ++t) outs.push_back(m->step(x.select(1, t), *st).unsqueeze(1));
    EXPECT_CLOSE(cat(outs, 1), full, (Tol{1e-12, 1e-10}));
    // prefill P positions, then step the rest
    auto st2 = m->new_state(B);
    Tensor head;
    {
      NoGradGuard ng;
      head = m->prefill(x.narrow(1, 0, P), *st2);
    }
    std::vector<Tensor> parts = {head};
    for (int64_t t = P; t < L; ++t) parts.push_back(m->step(x.select(1, t), *st2).unsqueeze(1));
    EXPECT_CLOSE(cat(parts, 1), full, (Tol{1e-12, 1e-10}));
  }
}

TEST(S5Packed, SeqStartEqualsSeparateSequences) {
  Generator g(4);
  auto m = make({{"d_state", 6}, {"bidirectional", true}}, 4, 1, false);
  Tensor x = Tensor::randn({1, 10, 4}, DType::f64, &g);
  std::vector<int64_t> s(10, 0);
  s[0] = s[4] = 1;
  NoGradGuard ng;
  Tensor packed = m->forward(x, Tensor::from_vector(s, {1, 10}));
  Tensor a = m->forward(x.narrow(1, 0, 4)), b = m->forward(x.narrow(1, 4, 6));
  EXPECT_CLOSE(packed, cat({a, b}, 1), (Tol{1e-12, 1e-10}));
}

TEST(S5Init, BlocksAndShapes) {
  auto m = make({{"d_state", 8}, {"blocks", 2}}, 5);
  S5Init init = s5_init(8, 2, true);
  EXPECT_CLOSE(m->Lambda_re, init.Lambda.select(1, 0), (Tol{1e-15, 1e-15}));
  EXPECT_CLOSE(m->Lambda_im, init.Lambda.select(1, 1), (Tol{1e-15, 1e-15}));
  EXPECT_EQ(m->B.shape(), (Shape{4, 5, 2}));
  EXPECT_EQ(m->C.shape(), (Shape{5, 4, 2}));
  EXPECT_EQ(m->log_step.shape(), (Shape{4, 1}));
  std::vector<double> ls = m->log_step.to_vector<double>();
  for (double v : ls) EXPECT_TRUE(v >= std::log(1e-3) && v <= std::log(0.1)) << v;
  // Block-diagonal V⁻¹: B̃ of a block's modes mixes only that block's rows of B, so the
  // per-block Λ repeat: the two blocks of 2 modes hold the same eigenvalues.
  std::vector<double> re = m->Lambda_re.to_vector<double>(), im = m->Lambda_im.to_vector<double>();
  EXPECT_EQ(re[0], re[2]);
  EXPECT_EQ(im[1], im[3]);
  auto bi = make({{"d_state", 4}, {"bidirectional", true}}, 3, 1, false);
  EXPECT_FALSE(bi->C.defined());
  EXPECT_EQ(bi->C1.shape(), (Shape{3, 2, 2}));
  EXPECT_EQ(bi->C2.shape(), (Shape{3, 2, 2}));
}

TEST(S5Registry, ParameterCountsMatch) {
  for (const json& o : {json{{"d_state", 8}}, json{{"d_state", 6}, {"conj_sym", false}},
                        json{{"d_state", 8}, {"bidirectional", true}}}) {
    MixerContext ctx{.d_model = 5, .n_layer = 1, .dtype = DType::f64, .causal = false};
    EXPECT_EQ(double(make(o, 5, 1, false)->num_parameters()), s5_mixer_info().parameters(o, ctx)) << o.dump();
  }
}

TEST(S5Registry, BadConfigsRejected) {
  const MixerInfo& info = s5_mixer_info();
  MixerContext causal{.d_model = 8, .n_layer = 1, .dtype = DType::f32, .causal = true};
  MixerContext bidir = causal;
  bidir.causal = false;
  auto keys_of = [&](const json& o, const MixerContext& c) {
    std::string k;
    for (const schema::Failure& f : info.check(o, c)) k += f.key + ";";
    return k;
  };
  EXPECT_EQ(keys_of({{"d_state", 8}}, causal), "");
  EXPECT_EQ(keys_of({{"d_state", 7}}, causal), "d_state;");                // odd with conj_sym
  EXPECT_EQ(keys_of({{"d_state", 8}, {"blocks", 3}}, causal), "d_state;");  // not a multiple
  EXPECT_EQ(keys_of({{"d_state", 12}, {"blocks", 4}}, causal), "d_state;"); // blocks of 3
  EXPECT_EQ(keys_of({{"d_state", 12}, {"blocks", 4}, {"conj_sym", false}}, causal), "");
  EXPECT_EQ(keys_of({{"dt_min", 0.5}, {"dt_max", 0.1}}, causal), "dt_min;");
  EXPECT_EQ(keys_of({{"bidirectional", true}}, causal), "bidirectional;");
  EXPECT_EQ(keys_of({{"bidirectional", true}}, bidir), "");
  EXPECT_THROW(info.check_json({{"ssm_activation", "full_glu"}}, "config.json"), Error);
  EXPECT_NO_THROW(info.check_json({{"ssm_activation", "half_glu1"}}, "config.json"));
}

}  // namespace
}  // namespace ssm::nn
