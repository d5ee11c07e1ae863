// The Mamba language model against the plain-PyTorch reference (tools/mamba_reference.py, the
// Hugging Face layout): logits, loss and every parameter's gradient in float64; recurrent
// decoding equals the whole-sequence forward; checkpointing changes nothing.
#include <gtest/gtest.h>

#include <set>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "models/mamba_lm.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "support/compare.h"

namespace ssm::models {
namespace {

using testing::default_tol;

struct Fixture {
  std::map<std::string, Tensor> params, grads;
  Tensor ids, logits, loss;
  MambaLMConfig cfg;
};

Fixture load_fixture() {
  auto file = safetensors::load(std::string(SSM_TEST_DATA_DIR) + "/fixtures/models/mamba_lm.safetensors");
  Fixture f;
  for (auto& [name, t] : file.tensors) {
    if (name.rfind("grad.", 0) == 0)
      f.grads[name.substr(5)] = t;
    else if (name == "ids")
      f.ids = t;
    else if (name == "logits")
      f.logits = t;
    else if (name == "loss")
      f.loss = t;
    else
      f.params[name] = t;
  }
  f.cfg = MambaLMConfig::from_json(nlohmann::json::parse(file.metadata.at("config")));
  f.cfg.dtype = DType::f64;
  return f;
}

Tensor next_token_loss(const Tensor& logits, const Tensor& ids) {
  int64_t V = logits.size(2);
  Tensor pred = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, V});
  Tensor target = ids.narrow(1, 1, ids.size(1) - 1).reshape({-1});
  return cross_entropy(pred, target);
}

TEST(MambaLM, ParameterNamesAreHuggingFaces) {
  Fixture f = load_fixture();
  Generator gen(0);
  MambaLM model(f.cfg, gen);
  std::set<std::string> ours, theirs;
  for (auto& [name, p] : model.named_parameters()) {
    ours.insert(name);
    ASSERT_TRUE(f.params.count(name)) << name << " is not a Hugging Face parameter name";
    EXPECT_EQ(p.shape(), f.params[name].shape()) << name;
  }
  for (auto& [name, t] : f.params) theirs.insert(name);
  EXPECT_EQ(ours, theirs);
}

TEST(MambaLM, MatchesThePyTorchReferenceInFloat64) {
  Fixture f = load_fixture();
  Generator gen(0);
  MambaLM model(f.cfg, gen);
  model.load_state_dict(f.params);
  Tensor logits = model.forward(f.ids);
  EXPECT_CLOSE(logits, f.logits, default_tol(DType::f64));
  Tensor loss = next_token_loss(logits, f.ids);
  EXPECT_NEAR(loss.item<double>(), f.loss.item<double>(), 1e-12);
  loss.backward();
  for (auto& [name, p] : model.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_CLOSE(p.grad(), f.grads.at(name), default_tol(DType::f64));
  }
}

MambaLMConfig tiny(Discretization disc = Discretization::zoh) {
  MambaLMConfig c;
  c.vocab_size = 13;
  c.hidden_size = 12;
  c.state_size = 5;
  c.num_hidden_layers = 2;
  c.conv_kernel = 3;
  c.dtype = DType::f64;
  c.scan.discretization = disc;
  c.scan.alpha = 0.3;
  c.scan.chunk = 3;
  return c;
}

TEST(MambaLM, StepByStepEqualsTheWholeSequence) {
  for (auto disc : {Discretization::zoh, Discretization::zoh_exact, Discretization::bilinear,
                    Discretization::generalized_bilinear}) {
    SCOPED_TRACE(discretization_name(disc));
    Generator gen(3);
    MambaLM model(tiny(disc), gen);
    Tensor ids = Tensor::randint({2, 9}, 0, 13, DType::i64, &gen);
    Tensor full;
    {
      NoGradGuard ng;
      full = model.forward(ids);
    }
    for (int64_t prompt : {1, 4}) {
      MambaLMCache cache;
      Tensor last = model.prefill(ids.narrow(1, 0, prompt), cache);
      EXPECT_CLOSE(last, full.select(1, prompt - 1), default_tol(DType::f64));
      for (int64_t t = prompt; t < 9; ++t) {
        Tensor logits = model.step(ids.select(1, t), cache);
        EXPECT_CLOSE(logits, full.select(1, t), default_tol(DType::f64));
      }
    }
  }
}

TEST(MambaLM, GradientCheckpointingGivesTheSameGradients) {
  auto grads = [](bool ckpt) {
    Generator gen(4);
    MambaLM model(tiny(), gen);
    model.set_gradient_checkpointing(ckpt);
    Tensor ids = Tensor::randint({2, 6}, 0, 13, DType::i64, &gen);
    next_token_loss(model.forward(ids), ids).backward();
    std::vector<Tensor> g;
    for (auto& [n, p] : model.named_parameters()) g.push_back(p.grad());
    return g;
  };
  auto a = grads(false), b = grads(true);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_CLOSE(b[i], a[i], default_tol(DType::f64));
}

TEST(MambaLM, ConfigJsonRoundTripsAndRejectsBadValues) {
  MambaLMConfig c = tiny(Discretization::generalized_bilinear);
  MambaLMConfig back = MambaLMConfig::from_json(c.to_json());
  EXPECT_EQ(back.to_json(), c.to_json());
  auto j = c.to_json();
  j["state_size"] = 100;  // > hidden_size
  EXPECT_THROW(MambaLMConfig::from_json(j), Error);
  j = c.to_json();
  j["conv_kernel"] = "four";
  EXPECT_THROW(MambaLMConfig::from_json(j), Error);
  j = c.to_json();
  j["model_type"] = "llama";
  EXPECT_THROW(MambaLMConfig::from_json(j), Error);
}

TEST(MambaLM, InitialisationFollowsTheReference) {
  Generator gen(5);
  MambaLMConfig c = tiny();
  c.dtype = DType::f32;
  MambaLM model(c, gen);
  for (auto& [name, p] : model.named_parameters()) {
    if (name.find("A_log") != std::string::npos) {
      // log(1..N) in every channel
      for (int64_t n = 0; n < c.state_size; ++n) EXPECT_NEAR(p.at({0, n}), std::log(double(n + 1)), 1e-6);
    } else if (name.size() > 2 && name.substr(name.size() - 2) == ".D") {
      EXPECT_EQ(p.to_vector<float>(), std::vector<float>(size_t(p.numel()), 1.0f));
    } else if (name.find("dt_proj.bias") != std::string::npos) {
      // softplus(bias) is the initial Δ, log-uniform in [1e-3, 0.1]
      for (double b : p.to_vector<double>()) {
        double dt = std::log1p(std::exp(b));
        EXPECT_GE(dt, 1e-3 * 0.999);
        EXPECT_LE(dt, 0.1 * 1.001);
      }
    }
  }
}

}  // namespace
}  // namespace ssm::models
