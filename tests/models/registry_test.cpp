// The registries: every architecture builds with every mixer, trains a step and decodes step by
// step as its forward does; every registry entry is complete; every task's defaults pass its own
// checks. A new mixer, architecture or task is covered here by its registry line alone.
#include <gtest/gtest.h>

#include <set>

#include "core/autograd.h"
#include "core/error.h"
#include "models/registry.h"
#include "nn/mixer.h"
#include "support/compare.h"
#include "tasks/registry.h"

namespace ssm::models {
namespace {

using testing::default_tol;

// A small model of each registered kind: the registry's defaults, shrunk.
ModelConfig small(const std::string& architecture, const std::string& mixer) {
  ModelConfig c;
  c.architecture = architecture;
  c.mixer = mixer;
  c.options = model_defaults(architecture, mixer);
  c.options["vocab_size"] = 11;
  c.options["d_model"] = 16;
  c.options["n_layer"] = 2;
  c.dtype = DType::f64;
  return c;
}

TEST(ModelRegistry, EntriesAreComplete) {
  ASSERT_FALSE(architectures().empty());
  ASSERT_FALSE(nn::mixers().empty());
  std::set<std::string> names;
  for (const ArchitectureInfo& a : architectures()) {
    SCOPED_TRACE(a.name);
    EXPECT_TRUE(names.insert(a.name).second) << "two architectures share a name";
    EXPECT_FALSE(a.doc.empty());
    EXPECT_TRUE(a.keys && a.defaults && a.check && a.parameters && a.create && a.reads &&
                a.from_json);
  }
  for (const nn::MixerInfo& m : nn::mixers()) {
    SCOPED_TRACE(m.name);
    EXPECT_TRUE(names.insert(m.name).second) << "a mixer shares a name";
    EXPECT_FALSE(m.doc.empty());
    EXPECT_FALSE(m.model_type.empty());
    EXPECT_TRUE(m.keys && m.defaults && m.check && m.parameters && m.create && m.write_json &&
                m.check_json);
    // Every key has a default, and the defaults pass the key's own checks.
    json d = m.defaults();
    for (const schema::Key& k : m.keys()) {
      ASSERT_TRUE(d.contains(k.name)) << k.name;
      std::string path = k.name;
      EXPECT_EQ(schema::check_value(k, d.at(k.name), &path), "") << path;
    }
  }
}

TEST(ModelRegistry, EveryArchitectureWithEveryMixerTrainsAndSteps) {
  for (const ArchitectureInfo& a : architectures())
    for (const nn::MixerInfo& m : nn::mixers()) {
      SCOPED_TRACE(a.name + " with " + m.name);
      Generator gen(1);
      std::unique_ptr<Model> model = create_model(small(a.name, m.name), gen);
      EXPECT_GT(model->num_parameters(), 0);
      // The count a config is checked by before anything is allocated is the built model's.
      EXPECT_EQ(a.parameters(small(a.name, m.name)), double(model->num_parameters()));
      EXPECT_GT(model->flops_per_token(), 0);
      EXPECT_FALSE(model->summary().empty());
      // A training step: the loss has a gradient for every parameter. A classifier's targets
      // are one label per sequence.
      const bool lm = model->next_token_logits();
      Tensor ids = Tensor::randint({2, 7}, 0, 11, DType::i64, &gen);
      Batch b{ids, Tensor::randint({2, lm ? 7 : 1}, 0, lm ? 11 : 2, DType::i64, &gen), Tensor()};
      model->loss(b).backward();
      for (auto& [name, p] : model->named_parameters()) EXPECT_TRUE(p.grad().defined()) << name;
      NoGradGuard ng;
      Tensor full = model->forward(ids);
      if (!lm) {
        EXPECT_EQ(full.size(1), 1) << "one row of label scores per sequence";
        EXPECT_THROW(model->new_state(2), Error) << "a classifier does not decode";
      }
      // Decoding step by step gives the forward's logits.
      if (lm) {
      std::unique_ptr<DecodeState> state = model->new_state(2);
      EXPECT_CLOSE(model->prefill(ids.narrow(1, 0, 3), *state), full.select(1, 2), default_tol(DType::f64));
      for (int64_t t = 3; t < 7; ++t)
        EXPECT_CLOSE(model->step(ids.select(1, t), *state), full.select(1, t), default_tol(DType::f64));
      }
      // config.json gives back the same model.
      ModelConfig back = model_config_from_json(model->config_json(), "config.json");
      EXPECT_EQ(back.architecture, a.name);
      EXPECT_EQ(back.mixer, m.name);
      back.dtype = DType::f64;
      Generator gen2(1);
      EXPECT_EQ(create_model(back, gen2)->config_json(), model->config_json());
    }
}

TEST(TaskRegistry, EntriesAreCompleteAndTheirDefaultsPass) {
  ASSERT_FALSE(tasks::task_infos().empty());
  std::set<std::string> names;
  for (const tasks::TaskInfo& t : tasks::task_infos()) {
    SCOPED_TRACE(t.name);
    EXPECT_TRUE(names.insert(t.name).second);
    EXPECT_FALSE(t.doc.empty());
    EXPECT_TRUE(t.keys && t.defaults && t.data_file && t.check && t.create);
    json d = t.defaults();
    for (const schema::Key& k : t.keys()) {
      ASSERT_TRUE(d.contains(k.name)) << k.name;
      std::string path = k.name;
      EXPECT_EQ(schema::check_value(k, d.at(k.name), &path), "") << path;
    }
    EXPECT_TRUE(t.check(d, 0).empty()) << "a task's defaults fail its checks";
    EXPECT_FALSE(t.data_file(d).empty());
    EXPECT_TRUE(t.show) << "ssm data show has nothing to show";
  }
  for (const tasks::DataBuilder& b : tasks::data_builders()) EXPECT_TRUE(b.build) << b.name;
}

}  // namespace
}  // namespace ssm::models
