// Every OpInfo sample, gradient-checked in float64 against central differences; each sample
// must also produce the Node kinds its entry names (so the check covers the op it claims to).
#include <gtest/gtest.h>

#include <set>

#include "ops/op_info.h"
#include "support/gradcheck.h"

namespace ssm::testing {
namespace {

std::vector<std::string> names() {
  std::vector<std::string> v;
  for (const OpInfo& info : op_infos()) v.push_back(info.name);
  return v;
}

std::set<OpId> graph_ops(const std::vector<Tensor>& outputs) {
  std::set<OpId> ops;
  std::set<const Node*> seen;
  std::vector<const Node*> stack;
  for (const Tensor& t : outputs)
    if (t.defined() && t.grad_fn()) stack.push_back(t.grad_fn().get());
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (!seen.insert(n).second) continue;
    ops.insert(n->op);
    for (const Edge& e : n->next)
      if (e.fn) stack.push_back(e.fn.get());
  }
  return ops;
}

class Gradcheck : public ::testing::TestWithParam<std::string> {};

TEST_P(Gradcheck, Float64) {
  const OpInfo& info = *find_op_info(GetParam());
  Generator gen(42);
  std::vector<Sample> samples = info.samples(gen);
  ASSERT_FALSE(samples.empty()) << info.name << " has no samples";
  for (const Sample& s : samples) {
    SCOPED_TRACE(info.name + " / " + s.label);
    std::vector<bool> check;
    std::vector<Tensor> leaves;
    for (const Tensor& x : s.inputs) {
      bool f = x.defined() && x.dtype() == DType::f64;
      check.push_back(f);
      Tensor l = x.defined() ? x.detach() : Tensor();
      if (f) l.requires_grad_(true);
      leaves.push_back(l);
    }
    std::set<OpId> seen = graph_ops(info.run(leaves, s.args));
    for (OpId op : info.nodes)
      EXPECT_TRUE(seen.count(op)) << "sample did not record a '" << op_name(op) << "' node";
    std::string msg = gradcheck(
        [&](const std::vector<Tensor>& in) { return info.run(in, s.args); }, s.inputs, check,
        info.grad);
    EXPECT_EQ(msg, "");
  }
}

INSTANTIATE_TEST_SUITE_P(Ops, Gradcheck, ::testing::ValuesIn(names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace ssm::testing
