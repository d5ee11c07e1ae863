// CUDA reductions against the float64 CPU op: row sums (warp and block per row), column sums,
// reductions over non-adjacent dims of strided views, whole-tensor reductions long enough to be
// split across blocks, NaN / tie / empty-set rules, sum_to of broadcast backward, and autograd
// end to end on the device (seed gradient, accumulation of a tensor used twice, hooks).
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/reduce_to.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

class CudaReduce : public ::ssm::testing::GpuTest<> {};

const Device kGpu = Device::cuda(0);

Tol tol_for(DType dt) {
  switch (dt) {
    case DType::f64: return {1e-9, 1e-9};
    case DType::f32: return {1e-5, 1e-5};
    default: return {1e-2, 1e-2};  // the output rounded once to bf16/f16
  }
}

using Red = Tensor (*)(const Tensor&, const std::vector<int64_t>&, bool);

Tensor var1(const Tensor& x, const std::vector<int64_t>& d, bool k) { return var(x, d, k, 1.0); }

// The reduction on the GPU in dt against the CPU in float64 on the same rounded input; forward
// and the input gradient for a random upstream gradient.
void check(const char* name, Red f, const Tensor& x64, const std::vector<int64_t>& dims, bool keep,
           DType dt, bool transpose = false) {
  SCOPED_TRACE(std::string(name) + " " + dtype_name(dt));
  Generator g(5);
  Tensor xr = x64.to(dt).to(DType::f64);
  Tensor xc = xr.detach().requires_grad_(true);
  Tensor xin = transpose ? xc.transpose(0, 1) : xc;
  Tensor yc = f(xin, dims, keep);
  Tensor gy = Tensor::randn(yc.shape(), DType::f64, &g).to(dt).to(DType::f64);
  yc.backward(gy);
  Tensor xg = xr.to(dt).to(kGpu).requires_grad_(true);
  Tensor yg = f(transpose ? xg.transpose(0, 1) : xg, dims, keep);
  ASSERT_EQ(yg.shape(), yc.shape());
  yg.backward(gy.to(dt).to(kGpu));
  Tol t = tol_for(dt);
  EXPECT_CLOSE(yg.detach().cpu().to(DType::f64), yc.detach(), t);
  EXPECT_CLOSE(xg.grad().cpu().to(DType::f64), xc.grad(), t);
}

TEST_F(CudaReduce, EveryReductionOverManyLayouts) {
  Generator g(1);
  struct Case {
    Shape shape;
    std::vector<int64_t> dims;
    bool keep, transpose;
  };
  std::vector<Case> cases = {
      {{2048, 768}, {-1}, false, false},       // rows: warp per row... (768 < 2048)
      {{64, 5000}, {1}, true, false},          // long rows: block per row, split
      {{3, 100003}, {1}, false, false},        // few very long rows
      {{4096, 33}, {0}, false, false},         // column sums
      {{7, 300, 50}, {0, 2}, true, false},     // non-adjacent dims
      {{50, 70}, {1}, false, true},            // transposed view
      {{600, 9}, {1}, false, false},           // short rows
      {{1 << 20}, {}, false, false},           // whole tensor, split across blocks
  };
  const std::pair<const char*, Red> ops[] = {
      {"sum", static_cast<Red>(sum)}, {"mean", static_cast<Red>(mean)},
      {"max", static_cast<Red>(max)}, {"min", static_cast<Red>(min)},
      {"var", var1},                  {"logsumexp", static_cast<Red>(logsumexp)}};
  for (const Case& c : cases) {
    SCOPED_TRACE(::testing::PrintToString(std::vector<int64_t>(c.shape.begin(), c.shape.end())));
    Tensor x = Tensor::randn(c.shape, DType::f64, &g);
    for (auto [name, f] : ops)
      for (DType dt : {DType::f64, DType::f32, DType::bf16}) check(name, f, x, c.dims, c.keep, dt, c.transpose);
  }
}

TEST_F(CudaReduce, ArgExtremesTiesNanAndIntegers) {
  std::vector<double> v = {1, 5, 5, 2, -3, -3, 0, 7, NAN, 7, 1, NAN};
  Tensor x = Tensor::from_vector(v, Shape{3, 4});
  Tensor xg = x.to(kGpu);
  for (int d : {0, 1}) {
    EXPECT_EQ(argmax(xg, d).cpu().to_vector<int64_t>(), argmax(x, d).to_vector<int64_t>());
    EXPECT_EQ(argmin(xg, d).cpu().to_vector<int64_t>(), argmin(x, d).to_vector<int64_t>());
  }
  EXPECT_EQ(argmax(xg).cpu().item<int64_t>(), argmax(x).item<int64_t>());
  Generator g(3);
  Tensor big = Tensor::randint({100, 3000}, -20, 20, DType::i32, &g);
  Tensor bg = big.to(kGpu);
  EXPECT_EQ(argmax(bg, 1).cpu().to_vector<int64_t>(), argmax(big, 1).to_vector<int64_t>());
  EXPECT_EQ(argmin(bg, 0).cpu().to_vector<int64_t>(), argmin(big, 0).to_vector<int64_t>());
  EXPECT_EQ(max(bg, {1}).cpu().to_vector<int32_t>(), max(big, {1}).to_vector<int32_t>());
  EXPECT_EQ(sum(bg, {0}).cpu().to_vector<int64_t>(), sum(big, {0}).to_vector<int64_t>());
  Tensor bools = gt(big, scalar_like(0, big)), boolg = gt(bg, scalar_like(0, bg));
  EXPECT_EQ(sum(boolg).cpu().item<int64_t>(), sum(bools).item<int64_t>());
  EXPECT_EQ(max(boolg, {1}).cpu().to(DType::i32).to_vector<int32_t>(), max(bools, {1}).to(DType::i32).to_vector<int32_t>());
  // whole-tensor argmax with the maximum late in a long tensor (split across blocks)
  Tensor r = Tensor::randn({3 << 20}, DType::f32, &g);
  Tensor rg = r.to(kGpu);
  EXPECT_EQ(argmax(rg).cpu().item<int64_t>(), argmax(r).item<int64_t>());
  EXPECT_EQ(argmin(rg).cpu().item<int64_t>(), argmin(r).item<int64_t>());
}

TEST_F(CudaReduce, EmptySetsAndInfinities) {
  Tensor e = Tensor::zeros({4, 0}, DType::f32, kGpu);
  EXPECT_EQ(sum(e, {1}).cpu().to_vector<float>(), std::vector<float>(4, 0.0f));
  for (float v : mean(e, {1}).cpu().to_vector<float>()) EXPECT_TRUE(std::isnan(v));
  for (float v : logsumexp(e, {1}).cpu().to_vector<float>()) EXPECT_EQ(v, -INFINITY);
  EXPECT_THROW(max(e, {1}), Error);
  double inf = std::numeric_limits<double>::infinity();
  Tensor x = Tensor::from_vector(std::vector<double>{-inf, -inf, inf, 1, 2, 3, NAN, 1, 2}, Shape{3, 3});
  std::vector<double> got = logsumexp(x.to(kGpu), {1}).cpu().to_vector<double>();
  std::vector<double> want = logsumexp(x, {1}).to_vector<double>();
  EXPECT_EQ(got[0], want[0]);
  EXPECT_NEAR(got[1], want[1], 1e-12);
  EXPECT_TRUE(std::isnan(got[2]));
  Tensor ninf = Tensor::full({2, 5}, -inf, DType::f64, kGpu);
  for (double v : logsumexp(ninf, {1}).cpu().to_vector<double>()) EXPECT_EQ(v, -inf);
}

TEST_F(CudaReduce, SumToOfBroadcastGradients) {
  Generator g(9);
  Tensor grad = Tensor::randn({8, 2048, 96}, DType::f32, &g);
  Tensor gg = grad.to(kGpu);
  for (Shape s : {Shape{96}, Shape{8, 1, 96}, Shape{2048, 1}, Shape{1, 1, 1}, Shape{}}) {
    Tensor ref = sum_to(grad.to(DType::f64), s);
    EXPECT_CLOSE(sum_to(gg, s).cpu().to(DType::f64), ref, (Tol{1e-4, 1e-5}));
  }
}

TEST_F(CudaReduce, AutogradEndToEnd) {
  Generator g(11);
  Tensor x = Tensor::randn({33, 65}, DType::f64, &g), y = Tensor::randn({65}, DType::f64, &g);
  auto run = [&](Device dev, int& hook_calls) {
    Tensor xd = x.to(dev).requires_grad_(true), yd = y.to(dev).requires_grad_(true);
    xd.register_hook([&hook_calls](const Tensor& gr) {
      ++hook_calls;
      return mul(gr, 2.0);
    });
    // x is used twice: its gradient is accumulated
    Tensor l = add(sum(mul(exp(xd), yd)), mean(mul(xd, xd)));
    l.backward();
    EXPECT_EQ(l.device(), dev);
    return std::vector<Tensor>{l.detach().cpu(), xd.grad().cpu(), yd.grad().cpu()};
  };
  int hc = 0, hg = 0;
  auto ref = run(Device::cpu(), hc);
  auto got = run(kGpu, hg);
  EXPECT_EQ(hg, hc);
  for (size_t k = 0; k < ref.size(); ++k) EXPECT_CLOSE(got[k], ref[k], (Tol{1e-10, 1e-10}));
  // gradients accumulate over two backward calls
  Tensor xd = x.to(kGpu).requires_grad_(true);
  sum(exp(xd)).backward();
  sum(exp(xd)).backward();
  EXPECT_CLOSE(xd.grad().cpu(), mul(exp(x), 2.0), (Tol{1e-12, 1e-12}));
}

}  // namespace
}  // namespace ssm
