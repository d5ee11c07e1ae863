// CUDA elementwise ops against the float64 CPU op on shapes larger than the OpInfo samples:
// odd sizes that leave vector tails, misaligned (narrowed) operands, broadcasts as the Mamba block
// uses them, transposed inputs; every unary op forward and backward in every floating dtype,
// binary ops with gradients, integer ops, comparisons and where.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <functional>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

class CudaElementwise : public ::ssm::testing::GpuTest<> {};

const Device kGpu = Device::cuda(0);

Tol tol_for(DType dt) {
  switch (dt) {
    case DType::f64: return {1e-12, 1e-10};
    case DType::f32: return {1e-5, 1e-5};
    default: return {1e-2, 1e-2};  // one bf16/f16 rounding of the output (and of a gradient)
  }
}

// x rounded to dt, then both sides run: CPU in float64 on the rounded values, GPU in dt.
void check_unary(const std::string& name, const std::function<Tensor(const Tensor&)>& f,
                 const Tensor& x64, DType dt) {
  SCOPED_TRACE(name + " " + dtype_name(dt));
  Generator g(99);
  Tensor xr = x64.to(dt).to(DType::f64);
  Tensor xc = xr.detach().requires_grad_(true);
  Tensor yc = f(xc);
  Tensor gy = Tensor::randn(yc.shape(), DType::f64, &g).to(dt).to(DType::f64);
  yc.backward(gy);
  Tensor xg = xr.to(dt).to(kGpu).requires_grad_(true);
  Tensor yg = f(xg);
  ASSERT_EQ(yg.dtype(), dt);
  yg.backward(gy.to(dt).to(kGpu));
  EXPECT_CLOSE(yg.detach().cpu().to(DType::f64), yc.detach(), tol_for(dt));
  // Backward of exp, tanh, sigmoid, sqrt, rsqrt, relu uses the output y, which the 16-bit run
  // has rounded: 1 - y^2 near y = 1 or y^3 carry a few roundings' worth of error.
  Tol gtol = dt == DType::bf16 || dt == DType::f16 ? Tol{5e-2, 4e-2, 2e-2} : tol_for(dt);
  EXPECT_CLOSE(xg.grad().cpu().to(DType::f64), xc.grad(), gtol);
}

TEST_F(CudaElementwise, UnaryForwardAndBackwardEveryDtype) {
  Generator g(1);
  // 3 * 5 * 70001: not a multiple of any vector width
  Tensor x = Tensor::randn({3, 5, 70001}, DType::f64, &g);
  Tensor pos = add(abs(x), 0.1);
  std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> ops = {
      {"neg", [](const Tensor& t) { return neg(t); }},
      {"exp", [](const Tensor& t) { return exp(t); }},
      {"tanh", [](const Tensor& t) { return tanh(t); }},
      {"sigmoid", [](const Tensor& t) { return sigmoid(t); }},
      {"silu", [](const Tensor& t) { return silu(t); }},
      {"gelu", [](const Tensor& t) { return gelu(t); }},
      {"gelu_tanh", [](const Tensor& t) { return gelu(t, GeluApprox::tanh); }},
      {"softplus", [](const Tensor& t) { return softplus(t, 1.5, 2.0); }},
      {"relu", [](const Tensor& t) { return relu(t); }},
      {"abs", [](const Tensor& t) { return abs(t); }},
      {"clamp", [](const Tensor& t) { return clamp(t, -0.5, 0.7); }},
      {"pow3", [](const Tensor& t) { return pow(t, 3.0); }},
  };
  std::vector<std::pair<std::string, std::function<Tensor(const Tensor&)>>> pos_ops = {
      {"log", [](const Tensor& t) { return log(t); }},
      {"sqrt", [](const Tensor& t) { return sqrt(t); }},
      {"rsqrt", [](const Tensor& t) { return rsqrt(t); }},
      {"pow1.5", [](const Tensor& t) { return pow(t, 1.5); }},
  };
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    for (auto& [n, f] : ops) check_unary(n, f, x, dt);
    for (auto& [n, f] : pos_ops) check_unary(n, f, pos, dt);
  }
}

TEST_F(CudaElementwise, StridedAndMisalignedOperands) {
  Generator g(2);
  Tensor x = Tensor::randn({257, 1031}, DType::f64, &g);
  for (DType dt : {DType::f32, DType::bf16}) {
    Tensor xg = x.to(dt).to(kGpu);
    Tensor xr = x.to(dt).to(DType::f64);
    // offset by one element: the vector path must fall back to scalar accesses
    EXPECT_CLOSE(silu(xg.narrow(1, 1, 1029)).cpu().to(DType::f64), silu(xr.narrow(1, 1, 1029)),
                 tol_for(dt));
    EXPECT_CLOSE(exp(xg.t()).cpu().to(DType::f64), exp(xr.t()), tol_for(dt));
    EXPECT_CLOSE(mul(xg.t(), xg.t()).cpu().to(DType::f64), mul(xr.t(), xr.t()), tol_for(dt));
  }
}

TEST_F(CudaElementwise, BinaryOpsWithBroadcastAndGradients) {
  Generator g(3);
  // (B, L, D) with (D) and (B, 1, D): the shapes of a Mamba block's bias adds and gates
  Tensor a = Tensor::randn({4, 333, 96}, DType::f64, &g);
  Tensor b = Tensor::randn({96}, DType::f64, &g);
  Tensor c = add(abs(Tensor::randn({4, 1, 96}, DType::f64, &g)), 0.5);
  // rnd: the dtype the inputs are rounded to first (the CPU reference runs in float64 on them)
  auto run = [&](Device dev, DType dt, DType rnd, std::vector<Tensor>& grads) {
    auto in = [&](const Tensor& t) { return t.to(rnd).to(dt).to(dev).detach().requires_grad_(true); };
    Tensor ad = in(a), bd = in(b), cd = in(c);
    Tensor y = add(mul(sub(ad, bd), div(ad, cd)), pow(cd, bd));
    y = where(gt(ad, bd), y, mul(y, 0.5));
    Tensor gy = Tensor::ones(y.shape(), dt, dev);
    y.backward(gy);
    grads = {ad.grad(), bd.grad(), cd.grad()};
    return y;
  };
  for (DType dt : {DType::f64, DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    std::vector<Tensor> gc, gg;
    // bf16: every op of the chain rounds its result to bf16 (and the gradients of b and c sum
    // hundreds of such terms), so the reference is the CPU running the same chain in bf16, not
    // float64: the two differ only where a float32 intermediate lands on the other side of a
    // bf16 rounding boundary (exp/pow differ in the last float32 bits) and in summation order.
    Tensor yc = run(Device::cpu(), dt == DType::bf16 ? DType::bf16 : DType::f64, dt, gc);
    Tensor yg = run(kGpu, dt, dt, gg);
    Tol t = dt == DType::f64 ? Tol{1e-10, 1e-10} : dt == DType::f32 ? Tol{1e-4, 1e-4} : Tol{0.05, 0.05, 1e-2};
    EXPECT_CLOSE(yg.detach().cpu().to(DType::f64), yc.detach().to(DType::f64), t);
    for (int k = 0; k < 3; ++k) EXPECT_CLOSE(gg[k].cpu().to(DType::f64), gc[k].to(DType::f64), t);
  }
}

TEST_F(CudaElementwise, IntegersComparisonsAndWhere) {
  Generator g(4);
  Tensor a = Tensor::randint({513, 77}, -50, 50, DType::i64, &g);
  Tensor b = Tensor::randint({77}, -50, 50, DType::i64, &g);
  for (DType dt : {DType::i32, DType::i64}) {
    Tensor ac = a.to(dt), bc = b.to(dt), ag = ac.to(kGpu), bg = bc.to(kGpu);
    auto same = [](const Tensor& gpu, const Tensor& cpu) {
      ASSERT_EQ(gpu.dtype(), cpu.dtype());
      EXPECT_EQ(gpu.cpu().to(DType::f64).to_vector<double>(), cpu.to(DType::f64).to_vector<double>());
    };
    same(add(ag, bg), add(ac, bc));
    same(sub(ag, bg), sub(ac, bc));
    same(mul(ag.t(), 3.0), mul(ac.t(), 3.0));
    same(neg(ag), neg(ac));
    same(abs(ag), abs(ac));
    same(div(ag, add(abs(bg), 1.0)), div(ac, add(abs(bc), 1.0)));  // true division: float32
    same(eq(ag, bg), eq(ac, bc));
    same(ne(ag, bg), ne(ac, bc));
    same(lt(ag, bg), lt(ac, bc));
    same(le(ag, bg), le(ac, bc));
    same(gt(ag, bg), gt(ac, bc));
    same(ge(ag, bg), ge(ac, bc));
    same(where(lt(ag, bg), ag, bg), where(lt(ac, bc), ac, bc));
  }
  Tensor x = Tensor::randn({1000, 33}, DType::f32, &g);
  Tensor xg = x.to(kGpu);
  EXPECT_EQ(gt(xg, scalar_like(0, xg)).cpu().to(DType::i32).to_vector<int32_t>(), gt(x, scalar_like(0, x)).to(DType::i32).to_vector<int32_t>());
}

}  // namespace
}  // namespace ssm
