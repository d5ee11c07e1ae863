// The fused multi-tensor AdamW, global gradient norm and clipping on CUDA against the CPU.
// Parameters of mixed shapes (an odd-sized one, one of a single element, one spanning many
// chunks of the kernel), two groups (one with weight decay 0 and its own lr scale), several
// steps. float64 on both sides must agree to rounding; float32 and bfloat16 parameters within
// their precision; bfloat16 gradients into float32 master weights as the CPU does it.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <vector>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/optim.h"
#include "support/compare.h"
#include "train/adamw.h"

namespace ssm {
namespace {

using testing::Tol;

class CudaOptim : public ::ssm::testing::GpuTest<> {};

const std::vector<Shape> kShapes = {{7}, {33, 65}, {1}, {300001}, {4, 8, 16}, {8192}, {8195}};

// `steps` AdamW steps with clipping on the CPU and on CUDA from the same start and gradients;
// params in p_dtype, gradients in g_dtype.
void run_adamw(DType p_dtype, DType g_dtype, Tol tol, double max_norm) {
  Generator gen(42);
  std::vector<Tensor> cpu, gpu;
  for (const Shape& s : kShapes) {
    Tensor init = Tensor::randn(s, DType::f64, &gen).to(p_dtype);
    cpu.push_back(init.clone().requires_grad_());
    gpu.push_back(init.to(Device::cuda(0)).requires_grad_());
  }
  auto groups = [](const std::vector<Tensor>& p) {
    return std::vector<train::ParamGroup>{{{p[0], p[1], p[3], p[5]}, 0.1, 1.0, "decay"},
                                          {{p[2], p[4], p[6]}, 0.0, 2.0, "no_decay"}};
  };
  train::AdamWOptions opt{.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  train::AdamW oc(groups(cpu), opt), og(groups(gpu), opt);
  for (int step = 0; step < 5; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    for (size_t i = 0; i < cpu.size(); ++i) {
      if (step == 2 && i == 4) {  // a parameter without a gradient is skipped
        cpu[i].zero_grad();
        gpu[i].zero_grad();
        continue;
      }
      Tensor g = (Tensor::randn(kShapes[i], DType::f64, &gen) * (step + 1.0)).to(g_dtype);
      cpu[i].set_grad(g);
      gpu[i].set_grad(g.to(Device::cuda(0)));
    }
    if (max_norm > 0) {
      double nc = train::clip_grad_norm(cpu, max_norm), ng = train::clip_grad_norm(gpu, max_norm);
      EXPECT_NEAR(ng, nc, 1e-12 * nc);
    }
    oc.set_lr(opt.lr * (1.0 - 0.1 * step));
    og.set_lr(opt.lr * (1.0 - 0.1 * step));
    oc.step();
    og.step();
    std::vector<train::AdamW::Slot> sc = oc.slots(), sg = og.slots();
    for (size_t i = 0; i < sc.size(); ++i) {
      SCOPED_TRACE("param " + std::to_string(i));
      EXPECT_CLOSE(sg[i].param.cpu().to(DType::f64), sc[i].param.to(DType::f64), tol);
      EXPECT_CLOSE(sg[i].exp_avg.cpu().to(DType::f64), sc[i].exp_avg.to(DType::f64), tol);
      EXPECT_CLOSE(sg[i].exp_avg_sq.cpu().to(DType::f64), sc[i].exp_avg_sq.to(DType::f64), tol);
    }
  }
}

// float64: the same formula on both sides; only contraction into FMAs differs.
TEST_F(CudaOptim, AdamWFloat64MatchesCpu) { run_adamw(DType::f64, DType::f64, Tol{1e-13, 1e-12}, 0); }
TEST_F(CudaOptim, AdamWFloat64WithClippingMatchesCpu) { run_adamw(DType::f64, DType::f64, Tol{1e-13, 1e-12}, 5.0); }
// float32: a few ulps of the update differ (FMAs); the moments agree closely.
TEST_F(CudaOptim, AdamWFloat32MatchesCpu) { run_adamw(DType::f32, DType::f32, Tol{1e-6, 1e-5}, 5.0); }
TEST_F(CudaOptim, AdamWBf16GradsIntoFloat32Params) { run_adamw(DType::f32, DType::bf16, Tol{1e-6, 1e-5}, 0); }
// bfloat16 params: float32 moments, the param rounded once per step; a rounding may land on the
// other side of a bf16 tie (one bf16 ulp, 2^-8 relative).
TEST_F(CudaOptim, AdamWBf16ParamsMatchCpu) { run_adamw(DType::bf16, DType::f32, Tol{1e-5, 8e-3}, 0); }

// Under autocast, AdamW writes each parameter's cached bf16 cast in its own kernel: the next
// forward reuses the same cast (no new cast) and its values equal a fresh cast of the updated
// float32 weight bit for bit; training so is bitwise the same as casting anew every step (a
// guard per step, whose cache ends with it).
TEST_F(CudaOptim, AdamWRefreshesAutocastCasts) {
  const Device gpu = Device::cuda(0);
  Generator gen(9);
  Tensor w0 = Tensor::randn({300, 70}, DType::f32, &gen), b0 = Tensor::randn({300}, DType::f32, &gen);
  Tensor x = Tensor::randn({16, 70}, DType::f32, &gen).to(DType::bf16).to(gpu);
  train::AdamWOptions opt{.lr = 1e-2};
  auto loss_of = [&](const Tensor& w, const Tensor& b) {
    Tensor y = linear(x, autocast(w)).to(DType::f32) + b;
    return sum(mul(y, y));
  };
  const int steps = 4;
  std::vector<Tensor> kept, fresh;
  {
    Tensor w = w0.to(gpu).requires_grad_(), b = b0.to(gpu).requires_grad_();
    train::AdamW o({{{w, b}, 0.1, 1.0, "all"}}, opt);
    AutocastGuard guard(DType::bf16);
    const void* cast_data = nullptr;
    for (int step = 0; step < steps; ++step) {
      SCOPED_TRACE("step " + std::to_string(step));
      Tensor wc = autocast(w);
      EXPECT_CLOSE(wc.cpu(), w.detach().to(DType::bf16).cpu(), (Tol{0, 0}));
      if (step > 0) {
        EXPECT_EQ(wc.raw_data(), cast_data) << "the cached cast was not reused";
      }
      cast_data = wc.raw_data();
      loss_of(w, b).backward();
      o.step();
      o.zero_grad();
      kept.push_back(w.detach().cpu());
    }
  }
  Tensor w = w0.to(gpu).requires_grad_(), b = b0.to(gpu).requires_grad_();
  train::AdamW o({{{w, b}, 0.1, 1.0, "all"}}, opt);
  for (int step = 0; step < steps; ++step) {
    AutocastGuard guard(DType::bf16);
    loss_of(w, b).backward();
    o.step();
    o.zero_grad();
    fresh.push_back(w.detach().cpu());
  }
  for (int step = 0; step < steps; ++step) EXPECT_CLOSE(kept[size_t(step)], fresh[size_t(step)], (Tol{0, 0}));
}

TEST_F(CudaOptim, GlobalNormAndScale) {
  Generator gen(7);
  std::vector<Tensor> cpu, gpu;
  for (const Shape& s : {Shape{3000001}, Shape{17, 3}, Shape{1}, Shape{65536}}) {
    Tensor t = Tensor::randn(s, DType::f32, &gen);
    cpu.push_back(t);
    gpu.push_back(t.to(Device::cuda(0)));
  }
  Tensor h = Tensor::randn({1001}, DType::f64, &gen).to(DType::bf16);
  cpu.push_back(h);
  gpu.push_back(h.to(Device::cuda(0)));
  Tensor nc = global_grad_norm(cpu), ng = global_grad_norm(gpu);
  EXPECT_EQ(ng.device(), Device::cuda(0));
  EXPECT_EQ(ng.dtype(), DType::f64);
  EXPECT_EQ(ng.dim(), 0);
  // float64 sums of squares of the same values in another order.
  EXPECT_NEAR(ng.item<double>(), nc.item<double>(), 1e-13 * nc.item<double>());
  // Reproducible: the same bits on a second call.
  EXPECT_EQ(global_grad_norm(gpu).item<double>(), ng.item<double>());
  scale_(cpu, 0.3);
  scale_(gpu, 0.3);
  for (size_t i = 0; i < cpu.size(); ++i) EXPECT_CLOSE(gpu[i].cpu(), cpu[i], (Tol{0, 0}));
  EXPECT_EQ(global_grad_norm(std::vector<Tensor>{}).item<double>(), 0.0);
}

}  // namespace
}  // namespace ssm
