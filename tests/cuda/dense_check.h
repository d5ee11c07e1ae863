// One check for the dense ops' GPU tests: an op on the GPU in `dt` against the same op on the
// CPU in float64 on the same (dt-rounded) inputs, outputs and the gradient of every floating
// input for a random upstream gradient. Device allocations are NaN-poisoned by the fixture.
#pragma once

#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <algorithm>
#include <functional>
#include <vector>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "support/compare.h"

namespace ssm::testing {

class CudaDense : public ::ssm::testing::GpuTest<> {};

using DenseOp = std::function<Tensor(const std::vector<Tensor>&)>;

// `inputs`: float64 CPU tensors (get gradients) and index tensors (passed as they are).
// `noncontig`: indices of inputs to lay out on the device transposed in their last two dims
// (built transposed on the host, then viewed back: no device copy kernel needed).
inline void check_dense(const DenseOp& f, std::vector<Tensor> inputs, DType dt, Tol tol,
                        uint64_t seed, bool grads = true, std::vector<size_t> noncontig = {}) {
  Generator gen(seed);
  for (Tensor& x : inputs)
    if (x.dtype() == DType::f64) x = x.to(dt).to(DType::f64);
  std::vector<Tensor> cpu, gpu;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    bool fl = x.dtype() == DType::f64;
    cpu.push_back(fl && grads ? x.detach().requires_grad_(true) : x);
    bool nc = std::find(noncontig.begin(), noncontig.end(), i) != noncontig.end();
    Tensor h = fl ? x.to(dt) : x;
    Tensor d = nc ? h.transpose(-1, -2).contiguous().to(Device::cuda(0)).transpose(-1, -2)
                  : h.contiguous().to(Device::cuda(0));
    gpu.push_back(fl && grads ? d.detach().requires_grad_(true) : d);
  }
  Tensor ref = f(cpu);
  Tensor out = f(gpu);
  ASSERT_EQ(out.device(), Device::cuda(0));
  ASSERT_EQ(out.shape(), ref.shape());
  {
    SCOPED_TRACE("output");
    EXPECT_CLOSE(out.detach().cpu().to(DType::f64), ref.detach(), tol);
  }
  if (!grads) return;
  Tensor v = Tensor::randn(ref.shape(), DType::f64, &gen).to(dt).to(DType::f64);
  ref.backward(v);
  out.backward(v.to(dt).to(Device::cuda(0)));
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cpu[i].requires_grad() || !cpu[i].grad().defined()) continue;
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    ASSERT_TRUE(gpu[i].grad().defined()) << "no gradient on CUDA";
    EXPECT_CLOSE(gpu[i].grad().cpu().to(DType::f64), cpu[i].grad(), tol);
  }
}

}  // namespace ssm::testing
