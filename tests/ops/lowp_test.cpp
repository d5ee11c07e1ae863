// bf16 and f16 paths against float64: inputs are rounded to the 16-bit type, then the op runs in
// that type and, as the reference, in float64 on the same rounded values, so the comparison sees
// only the op's own arithmetic and output rounding. Outputs and input gradients are compared.
#include <gtest/gtest.h>

#include "ops/op_info.h"
#include "support/compare.h"

namespace ssm::testing {
namespace {

std::vector<std::string> names() {
  std::vector<std::string> v;
  for (const OpInfo& info : op_infos())
    if (info.lowp) v.push_back(info.name);
  return v;
}

struct RunResult {
  std::vector<Tensor> outs, grads;
};

RunResult run_with(const OpInfo& info, const Sample& s, DType dt, const std::vector<Tensor>& vs) {
  std::vector<Tensor> inputs;
  for (const Tensor& x : s.inputs) {
    if (x.defined() && x.dtype() == DType::f64)
      inputs.push_back(x.to(dt).detach().requires_grad_(true));
    else
      inputs.push_back(x);
  }
  RunResult r;
  r.outs = info.run(inputs, s.args);
  std::vector<Tensor> roots, grads;
  for (size_t k = 0; k < r.outs.size(); ++k)
    if (vs[k].defined() && r.outs[k].requires_grad()) {
      roots.push_back(r.outs[k]);
      grads.push_back(vs[k].to(r.outs[k].dtype()));
    }
  if (!roots.empty()) run_backward(roots, grads, false);
  for (const Tensor& x : inputs) r.grads.push_back(x.defined() ? x.grad() : Tensor());
  return r;
}

void check_dtype(const OpInfo& info, DType dt, Tol tol) {
  Generator gen(7);
  for (Sample s : info.samples(gen)) {
    SCOPED_TRACE(info.name + " / " + s.label + " / " + dtype_name(dt));
    for (Tensor& x : s.inputs)  // round to the 16-bit grid first
      if (x.defined() && x.dtype() == DType::f64) x = x.to(dt).to(DType::f64);
    std::vector<Tensor> vs;
    {
      NoGradGuard ng;
      for (const Tensor& y : info.run(s.inputs, s.args))
        vs.push_back(is_floating(y.dtype()) ? Tensor::randn(y.shape(), DType::f64, &gen).to(dt).to(DType::f64)
                                            : Tensor());
    }
    RunResult ref = run_with(info, s, DType::f64, vs);
    RunResult low = run_with(info, s, dt, vs);
    ASSERT_EQ(ref.outs.size(), low.outs.size());
    for (size_t k = 0; k < ref.outs.size(); ++k) {
      if (!is_floating(ref.outs[k].dtype())) {
        EXPECT_CLOSE(low.outs[k], ref.outs[k], (Tol{0, 0}));
        continue;
      }
      DType want = info.lowp_out_dtype ? info.lowp_out_dtype(dt, k, s.args) : dt;
      EXPECT_EQ(low.outs[k].dtype(), want) << "output " << k << " has the wrong dtype";
      EXPECT_CLOSE(low.outs[k].to(DType::f64), ref.outs[k], tol);
    }
    for (size_t k = 0; k < ref.grads.size(); ++k) {
      if (!ref.grads[k].defined()) continue;
      SCOPED_TRACE("gradient of input " + std::to_string(k));
      ASSERT_TRUE(low.grads[k].defined());
      EXPECT_CLOSE(low.grads[k].to(DType::f64), ref.grads[k], tol);
    }
  }
}

class LowPrecision : public ::testing::TestWithParam<std::string> {};

TEST_P(LowPrecision, BFloat16) {
  const OpInfo& info = *find_op_info(GetParam());
  check_dtype(info, DType::bf16, info.bf16);
}

TEST_P(LowPrecision, Float16) {
  const OpInfo& info = *find_op_info(GetParam());
  check_dtype(info, DType::f16, info.f16);
}

INSTANTIATE_TEST_SUITE_P(Ops, LowPrecision, ::testing::ValuesIn(names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace ssm::testing
