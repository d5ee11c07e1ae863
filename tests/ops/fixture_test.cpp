// Every OpInfo entry against PyTorch: tools/make_fixtures.py (Debian's python3-torch, CPU,
// float64) stored inputs, outputs, upstream gradients and input gradients for each case.
#include <gtest/gtest.h>

#include "io/safetensors.h"
#include "ops/op_info.h"
#include "support/compare.h"
#include "support/paths.h"

namespace ssm::testing {
namespace {

std::vector<std::string> names() {
  std::vector<std::string> v;
  for (const OpInfo& info : op_infos()) v.push_back(info.name);
  return v;
}

class Fixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Fixture, MatchesPyTorch) {
  const OpInfo& info = *find_op_info(GetParam());
  std::string path = tests_dir() + "/fixtures/ops/" + info.name + ".safetensors";
  auto file = safetensors::load(path);
  auto get = [&](const std::string& key) -> Tensor {
    auto it = file.tensors.find(key);
    return it == file.tensors.end() ? Tensor() : it->second;
  };
  auto cases = json::parse(file.metadata.at("cases"));
  ASSERT_GE(cases.size(), 1u);
  // Summation order differs from PyTorch's; float64 leaves ~1e-15 relative per operation.
  Tol tol = default_tol(DType::f64);
  for (const auto& c : cases) {
    std::string name = c.at("name");
    SCOPED_TRACE(info.name + " / " + name);
    std::vector<Tensor> inputs;
    for (int k = 0; k < c.at("n_in").get<int>(); ++k) {
      Tensor x = get(name + ".in" + std::to_string(k));
      if (x.defined() && get(name + ".gin" + std::to_string(k)).defined())
        x = x.detach().requires_grad_(true);
      inputs.push_back(x);
    }
    std::vector<Tensor> outs = info.run(inputs, c.at("args"));
    ASSERT_EQ(int(outs.size()), c.at("n_out").get<int>());
    std::vector<Tensor> roots, grads;
    for (size_t k = 0; k < outs.size(); ++k) {
      Tensor expected = get(name + ".out" + std::to_string(k));
      ASSERT_TRUE(expected.defined()) << "fixture lacks output " << k;
      EXPECT_CLOSE(outs[k], expected, tol);
      Tensor gout = get(name + ".gout" + std::to_string(k));
      if (gout.defined() && outs[k].requires_grad()) {
        roots.push_back(outs[k]);
        grads.push_back(gout);
      }
    }
    if (roots.empty()) continue;
    run_backward(roots, grads, false);
    for (size_t k = 0; k < inputs.size(); ++k) {
      Tensor expected = get(name + ".gin" + std::to_string(k));
      if (!expected.defined()) continue;
      Tensor actual = inputs[k].grad().defined() ? inputs[k].grad()
                                                 : Tensor::zeros(expected.shape(), DType::f64);
      SCOPED_TRACE("gradient of input " + std::to_string(k));
      EXPECT_CLOSE(actual, expected, tol);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Fixture, ::testing::ValuesIn(names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace ssm::testing
