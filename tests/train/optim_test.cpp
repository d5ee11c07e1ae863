// AdamW, clip_grad_norm and the learning-rate schedules against PyTorch
// (tests/fixtures/train/optim.safetensors, written by tools/make_optim_fixture.py).
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "train/adamw.h"
#include "train/scheduler.h"
#include "support/paths.h"

namespace ssm::train {
namespace {

struct OptimFixture {
  std::map<std::string, Tensor> t;
  nlohmann::json cfg;
  const Tensor& at(const std::string& k) const {
    auto it = t.find(k);
    if (it == t.end()) throw std::runtime_error("fixture has no tensor " + k);
    return it->second;
  }
  std::vector<double> vec(const std::string& k) const { return at(k).to_vector<double>(); }
};

OptimFixture load() {
  auto file = safetensors::load(ssm::testing::tests_dir() + "/fixtures/train/optim.safetensors");
  return {file.tensors, nlohmann::json::parse(file.metadata.at("config"))};
}

void expect_close(const Tensor& got, const Tensor& want, double tol, const std::string& what) {
  auto g = got.to_vector<double>(), w = want.to_vector<double>();
  ASSERT_EQ(g.size(), w.size()) << what;
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], w[i], tol * (1 + std::abs(w[i]))) << what << " [" << i << "]";
}

ScheduleOptions schedule(const nlohmann::json& c, ScheduleKind kind) {
  return {.kind = kind, .warmup_steps = c["warmup"], .total_steps = c["steps"], .min_lr_ratio = c["min_lr_ratio"]};
}

TEST(Optim, AdamWWithGroupsClippingAndCosineMatchesPyTorch) {
  OptimFixture f = load();
  int64_t steps = f.cfg["steps"];
  double base_lr = f.cfg["base_lr"], max_norm = f.cfg["max_norm"];
  std::map<std::string, Tensor> p;
  for (const char* k : {"w0", "w1", "w2"}) p[k] = f.at(std::string("init.") + k).clone().requires_grad_();
  AdamW opt({{{p["w0"], p["w2"]}, 0.1, 1.0, "decay"}, {{p["w1"]}, 0.0, 2.0, "no_decay"}},
            {.lr = base_lr, .beta1 = f.cfg["betas"][0], .beta2 = f.cfg["betas"][1], .eps = f.cfg["eps"]});
  LrSchedule sched(schedule(f.cfg, ScheduleKind::cosine));
  std::vector<double> norms = f.vec("clip_norms");
  for (int64_t s = 0; s < steps; ++s) {
    std::string pre = "step" + std::to_string(s) + ".";
    for (auto& [k, t] : p) t.set_grad(f.at(pre + "grad." + k).clone());
    double norm = clip_grad_norm({p["w0"], p["w1"], p["w2"]}, max_norm);
    EXPECT_NEAR(norm, norms[size_t(s)], 1e-12 * norms[size_t(s)]) << "step " << s;
    opt.set_lr(base_lr * sched.multiplier(s));
    opt.step();
    for (auto& [k, t] : p) expect_close(t, f.at(pre + "param." + k), 1e-12, pre + k);
  }
}

TEST(Optim, CosineAndLinearSchedulesMatchTorchSchedulers) {
  OptimFixture f = load();
  for (auto [kind, key] : {std::pair{ScheduleKind::cosine, "cosine"}, std::pair{ScheduleKind::linear, "linear"}}) {
    LrSchedule sched(schedule(f.cfg, kind));
    std::vector<double> want = f.vec(key);
    for (size_t s = 0; s < want.size(); ++s) EXPECT_NEAR(sched.multiplier(int64_t(s)), want[s], 1e-12) << key << " step " << s;
  }
}

TEST(Optim, ReduceOnPlateauMatchesTorch) {
  OptimFixture f = load();
  LrSchedule sched({.kind = ScheduleKind::reduce_on_plateau, .min_lr_ratio = f.cfg["min_lr_ratio"],
                    .factor = 0.5, .patience = 2, .threshold = 1e-4});
  std::vector<double> metrics = f.vec("plateau.metrics"), want = f.vec("plateau.lr");
  for (size_t i = 0; i < metrics.size(); ++i) {
    sched.on_eval(metrics[i]);
    EXPECT_NEAR(sched.multiplier(1000), want[i], 1e-15) << "after metric " << i;
  }
}

}  // namespace
}  // namespace ssm::train
