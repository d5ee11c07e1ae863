// Every op of the OpInfo table (ops/op_info.h: each entry beside its op) on CUDA against the CPU.
//
// For each sample the CPU runs in float64 (the reference: output and the gradient of every input
// for a random upstream gradient). The same inputs, moved to the GPU, then run in float64 (exact
// semantics: tight bounds), float32 and bfloat16 (inputs first rounded to that dtype, so only the
// op's arithmetic is compared). Every device allocation is NaN-poisoned, so an output or gradient
// element a kernel does not write fails. A sample that throws on the GPU fails, naming the op:
// an op without a CUDA kernel shows up here.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include "core/cuda/runtime.h"
#include "ops/op_info.h"
#include "support/compare.h"

namespace ssm::testing {
namespace {

struct RunResult {
  std::vector<Tensor> outs, grads;
};

// Inputs are float64 CPU tensors (index/bool ones keep their dtype); they are cast to `dt` and
// moved to `dev`, run, and the outputs and gradients come back as CPU tensors in float64.
RunResult run_on(const OpInfo& info, const Sample& s, DType dt, Device dev,
                 const std::vector<Tensor>& vs) {
  std::vector<Tensor> inputs;
  for (const Tensor& x : s.inputs) {
    if (!x.defined()) {
      inputs.push_back(x);
    } else if (x.dtype() == DType::f64) {
      Tensor moved = x.to(dt).to(dev).detach();
      // Keep the sample's layout: a non-contiguous CPU input stays non-contiguous on the device.
      if (!x.is_contiguous() && x.dim() >= 2)
        moved = moved.transpose(-1, -2).contiguous().transpose(-1, -2);
      inputs.push_back(moved.requires_grad_(true));
    } else {
      inputs.push_back(x.to(dev));
    }
  }
  RunResult r;
  std::vector<Tensor> outs = info.run(inputs, s.args);
  std::vector<Tensor> roots, grads;
  for (size_t k = 0; k < outs.size(); ++k)
    if (vs[k].defined() && outs[k].requires_grad()) {
      roots.push_back(outs[k]);
      grads.push_back(vs[k].to(outs[k].dtype()).to(dev));
    }
  if (!roots.empty()) run_backward(roots, grads, false);
  for (const Tensor& y : outs) {
    EXPECT_EQ(y.device(), dev) << "an output is on " << y.device();
    Tensor host = y.detach().cpu();  // moving a tensor with history is not differentiable
    r.outs.push_back(is_floating(host.dtype()) ? host.to(DType::f64) : host);
  }
  for (const Tensor& x : inputs)
    r.grads.push_back(x.defined() && x.grad().defined() ? x.grad().detach().cpu().to(DType::f64) : Tensor());
  return r;
}

std::vector<std::string> names() {
  std::vector<std::string> v;
  for (const OpInfo& info : op_infos()) v.push_back(info.name);
  return v;
}

class OpInfoCuda : public ::ssm::testing::GpuTest<::testing::TestWithParam<std::string>> {
 protected:

  void check(DType dt, Tol tol) {
    const OpInfo& info = *find_op_info(GetParam());
    if (dt != DType::f64 && dt != DType::f32 && !info.lowp) GTEST_SKIP() << "op has no low-precision path";
    Generator gen(20261201);
    for (Sample s : info.samples(gen)) {
      SCOPED_TRACE(info.name + " / " + s.label + " / " + dtype_name(dt));
      if (dt != DType::f64)
        for (Tensor& x : s.inputs)  // round to the dtype's grid first
          if (x.defined() && x.dtype() == DType::f64) {
            Tensor r = x.to(dt).to(DType::f64);
            x = x.is_contiguous() || x.dim() < 2 ? r : r.transpose(-1, -2).contiguous().transpose(-1, -2);
          }
      std::vector<Tensor> vs;
      {
        NoGradGuard ng;
        for (const Tensor& y : info.run(s.inputs, s.args))
          vs.push_back(is_floating(y.dtype())
                           ? Tensor::randn(y.shape(), DType::f64, &gen).to(dt).to(DType::f64)
                           : Tensor());
      }
      RunResult ref = run_on(info, s, DType::f64, Device::cpu(), vs);
      RunResult gpu;
      try {
        gpu = run_on(info, s, dt, Device::cuda(0), vs);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw on CUDA: " << e.what();
        continue;
      }
      ASSERT_EQ(ref.outs.size(), gpu.outs.size());
      for (size_t k = 0; k < ref.outs.size(); ++k) {
        SCOPED_TRACE("output " + std::to_string(k));
        if (!is_floating(ref.outs[k].dtype())) {
          EXPECT_CLOSE(gpu.outs[k], ref.outs[k], (Tol{0, 0}));
          continue;
        }
        EXPECT_CLOSE(gpu.outs[k], ref.outs[k], tol);
      }
      for (size_t k = 0; k < ref.grads.size(); ++k) {
        if (!ref.grads[k].defined()) continue;
        SCOPED_TRACE("gradient of input " + std::to_string(k));
        ASSERT_TRUE(gpu.grads[k].defined()) << "no gradient on CUDA";
        EXPECT_CLOSE(gpu.grads[k], ref.grads[k], tol);
      }
    }
  }
};

// float64 on both sides: only summation order differs.
TEST_P(OpInfoCuda, Float64) { check(DType::f64, Tol{1e-10, 1e-9}); }
// float32 against the float64 CPU result: sums of up to a few hundred terms.
TEST_P(OpInfoCuda, Float32) { check(DType::f32, Tol{1e-4, 1e-4, 2e-5}); }
TEST_P(OpInfoCuda, BFloat16) {
  const OpInfo& info = *find_op_info(GetParam());
  check(DType::bf16, info.bf16);
}

INSTANTIATE_TEST_SUITE_P(Ops, OpInfoCuda, ::testing::ValuesIn(names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace ssm::testing
