// The language model with the Mamba mixer against the plain-PyTorch reference
// (tools/mamba_reference.py, the Hugging Face layout): logits, loss and every parameter's gradient
// in float64; recurrent decoding equals the whole-sequence forward; checkpointing changes
// nothing; config.json round trips; create_model's errors name the allowed choices.
#include <gtest/gtest.h>

#include <set>

#include "core/autograd.h"
#include "io/safetensors.h"
#include "models/lm.h"
#include "models/registry.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/scan_options.h"
#include "support/compare.h"
#include "support/errors.h"
#include "support/paths.h"

namespace ssm::models {
namespace {

using testing::default_tol;

struct Fixture {
  std::map<std::string, Tensor> params, grads;
  Tensor ids, logits, loss;
  ModelConfig cfg;
};

Fixture load_fixture() {
  auto file = safetensors::load(ssm::testing::tests_dir() + "/fixtures/models/mamba_lm.safetensors");
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
  f.cfg = model_config_from_json(nlohmann::json::parse(file.metadata.at("config")), "fixture");
  f.cfg.dtype = DType::f64;
  return f;
}

Tensor next_token_loss(const Tensor& logits, const Tensor& ids) {
  int64_t V = logits.size(2);
  Tensor pred = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, V});
  Tensor target = ids.narrow(1, 1, ids.size(1) - 1).reshape({-1});
  return cross_entropy(pred, target);
}

TEST(LMWithMamba, ParameterNamesAreHuggingFaces) {
  Fixture f = load_fixture();
  Generator gen(0);
  std::unique_ptr<Model> m = create_model(f.cfg, gen);
  Model& model = *m;
  std::set<std::string> ours, theirs;
  for (auto& [name, p] : model.named_parameters()) {
    ours.insert(name);
    ASSERT_TRUE(f.params.count(name)) << name << " is not a Hugging Face parameter name";
    EXPECT_EQ(p.shape(), f.params[name].shape()) << name;
  }
  for (auto& [name, t] : f.params) theirs.insert(name);
  EXPECT_EQ(ours, theirs);
}

TEST(LMWithMamba, MatchesThePyTorchReferenceInFloat64) {
  Fixture f = load_fixture();
  Generator gen(0);
  std::unique_ptr<Model> m = create_model(f.cfg, gen);
  Model& model = *m;
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

ModelConfig tiny(Discretization disc = Discretization::zoh) {
  ModelConfig c;
  c.options = {{"vocab_size", 13}, {"d_model", 12}, {"d_state", 5}, {"n_layer", 2}, {"d_conv", 3},
               {"discretization", discretization_name(disc)}, {"alpha", 0.3}, {"scan_chunk", 3}};
  c.dtype = DType::f64;
  return c;
}

TEST(LMWithMamba, StepByStepEqualsTheWholeSequence) {
  for (auto disc : {Discretization::zoh, Discretization::zoh_exact, Discretization::bilinear,
                    Discretization::generalized_bilinear}) {
    SCOPED_TRACE(discretization_name(disc));
    Generator gen(3);
    std::unique_ptr<Model> m = create_model(tiny(disc), gen);
    const Model& model = *m;
    Tensor ids = Tensor::randint({2, 9}, 0, 13, DType::i64, &gen);
    Tensor full;
    {
      NoGradGuard ng;
      full = model.forward(ids);
    }
    for (int64_t prompt : {1, 4}) {
      std::unique_ptr<DecodeState> cache = model.new_state(2);
      Tensor last = model.prefill(ids.narrow(1, 0, prompt), *cache);
      EXPECT_CLOSE(last, full.select(1, prompt - 1), default_tol(DType::f64));
      for (int64_t t = prompt; t < 9; ++t) {
        Tensor logits = model.step(ids.select(1, t), *cache);
        EXPECT_CLOSE(logits, full.select(1, t), default_tol(DType::f64));
      }
    }
  }
}

TEST(LMWithMamba, GradientCheckpointingGivesTheSameGradients) {
  auto grads = [](bool ckpt) {
    Generator gen(4);
    std::unique_ptr<Model> m = create_model(tiny(), gen);
    Model& model = *m;
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

TEST(LMWithMamba, ConfigJsonRoundTripsAndRejectsBadValues) {
  Generator gen(0);
  ModelConfig c = tiny(Discretization::generalized_bilinear);
  json j = create_model(c, gen)->config_json();
  ModelConfig back = model_config_from_json(j, "config.json");
  back.dtype = c.dtype;
  EXPECT_EQ(create_model(back, gen)->config_json(), j);
  EXPECT_EQ(back.options.at("alpha"), 0.3);
  auto bad = [&](const char* key, json value) {
    json b = j;
    b[key] = value;
    try {
      ModelConfig m = model_config_from_json(b, "config.json");
      create_model(m, gen);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    ADD_FAILURE() << key << " = " << value.dump() << " was accepted";
    return std::string();
  };
  EXPECT_NE(bad("state_size", 100).find("d_state"), std::string::npos);  // > hidden_size
  EXPECT_NE(bad("conv_kernel", "four").find("conv_kernel"), std::string::npos);
  EXPECT_NE(bad("model_type", "llama").find("llama"), std::string::npos);
  EXPECT_NE(bad("hidden_act", "gelu").find("hidden_act"), std::string::npos);
  EXPECT_NE(bad("ssm_mixer", "s9").find("s9"), std::string::npos);
}

TEST(LMWithMamba, CreateModelNamesTheChoicesAndKeys) {
  Generator gen(0);
  ModelConfig c = tiny();
  c.mixer = "s9";
  EXPECT_THROW(create_model(c, gen), Error);
  try {
    create_model(c, gen);
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mixers: mamba"), std::string::npos) << e.what();
  }
  c = tiny();
  c.architecture = "gpt";
  EXPECT_THROW(create_model(c, gen), Error);
  c = tiny();
  c.options["d_sate"] = 4;
  try {
    create_model(c, gen);
    ADD_FAILURE() << "an unknown option was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.d_sate: is not a key of architecture lm with mixer mamba"),
              std::string::npos) << e.what();
  }
  c = tiny();
  c.options["d_conv"] = 9;
  try {
    create_model(c, gen);
    ADD_FAILURE() << "d_conv 9 was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.d_conv: must be in [2, 8], got 9"), std::string::npos)
        << e.what();
  }
  // Options left out take their defaults, as in YAML.
  c = ModelConfig{};
  c.options = {{"vocab_size", 7}, {"d_model", 16}, {"n_layer", 1}};
  std::unique_ptr<Model> m = create_model(c, gen);
  EXPECT_EQ(m->vocab_size(), 7);
  EXPECT_EQ(m->config_json().at("state_size"), 16);
}

TEST(LMWithMamba, InitialisationFollowsTheReference) {
  Generator gen(5);
  ModelConfig c = tiny();
  c.dtype = DType::f32;
  std::unique_ptr<Model> m = create_model(c, gen);
  Model& model = *m;
  for (auto& [name, p] : model.named_parameters()) {
    if (name.find("A_log") != std::string::npos) {
      // log(1..N) in every channel
      for (int64_t n = 0; n < 5; ++n) EXPECT_NEAR(p.at({0, n}), std::log(double(n + 1)), 1e-6);
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

TEST(LMWithMamba, CountsItsParametersWithoutBuildingThem) {
  const std::vector<json> variants = {
      {{"d_model", 16}, {"n_layer", 2}, {"d_state", 4}, {"vocab_size", 31}},
      {{"d_model", 24}, {"n_layer", 1}, {"d_state", 8}, {"vocab_size", 50}, {"expand", 3},
       {"d_conv", 3}, {"dt_rank", 5}, {"use_bias", true}, {"use_conv_bias", false},
       {"tie_embeddings", false}},
  };
  for (const json& options : variants) {
    ModelConfig cfg;
    cfg.options = options;
    Generator gen(0);
    double built = double(create_model(cfg, gen)->num_parameters());
    EXPECT_EQ(architecture_info("lm").parameters(cfg), built) << options.dump();
  }
}

TEST(LMWithMamba, ASizeThatCannotFitIsRefusedBeforeAllocating) {
  // 10^13 x 16 = 160 trillion parameters: 640 TB of float32, more than any machine holds.
  ModelConfig cfg;
  cfg.options = {{"d_model", 16}, {"n_layer", 1}, {"vocab_size", int64_t(10'000'000'000'000)}};
  Generator gen(0);
  EXPECT_EQ(testing::error_of([&] { create_model(cfg, gen); }).rfind(
                "model.vocab_size: 10000000000000 tokens x d_model 16 makes a model of 160 "
                "trillion parameters, whose float32 weights alone need 640 TB, more than this "
                "machine's ",
                0),
            0u)
      << testing::error_of([&] { create_model(cfg, gen); });
  // Blamed on n_layer where the layers hold most: 10^9 layers of about 33 thousand parameters.
  cfg.options = {{"d_model", 64}, {"n_layer", 1'000'000'000}, {"vocab_size", 31}};
  std::string why = testing::error_of([&] { create_model(cfg, gen); });
  EXPECT_EQ(why.rfind("model.n_layer: 1000000000 layers of 32.7 thousand parameters (d_model 64 "
                      "and the mixer's sizes) makes a model of 32.7 trillion parameters", 0),
            0u)
      << why;
  // A mixer's size counts in its layer: one layer of expand 10^12.
  cfg.options = {
      {"d_model", 16}, {"n_layer", 1}, {"vocab_size", 31}, {"expand", int64_t(1'000'000'000'000)}};
  why = testing::error_of([&] { create_model(cfg, gen); });
  EXPECT_EQ(why.rfind("model.n_layer: 1 layer of ", 0), 0u) << why;
}

}  // namespace
}  // namespace ssm::models
