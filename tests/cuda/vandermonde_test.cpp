// vandermonde on CUDA against the CPU op (float64 CPU on the same dtype-rounded inputs): the
// kernel and the gradients of C, dt and A at S4D's shapes (L 1k and 4k, M 32; M 200 crosses the
// forward's shared-memory tiles; two channels), zoh and bilinear; and the s4d mixer on CUDA
// against the same mixer on the CPU (outputs and every parameter's gradient). Errors are measured
// against each tensor's largest magnitude: the kernel's gradients sum L terms weighted by l.
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd.h"
#include "cuda/gpu_test.h"
#include "nn/hippo.h"
#include "nn/s4d.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/reduce.h"
#include "ops/vandermonde.h"

namespace ssm::testing {
namespace {

class VandermondeCuda : public GpuTest<> {};

double rel_err(const Tensor& a, const Tensor& e) {
  Tensor ad = a.detach().cpu().to(DType::f64), ed = e.detach().cpu().to(DType::f64);
  double scale = max(abs(ed)).item<double>();
  double err = max(abs(sub(ad, ed))).item<double>();
  return scale > 0 ? err / scale : err;
}

void check_case(int64_t Ch, int64_t H, int64_t M, int64_t L, LtiDiscretization method, DType dt,
                uint64_t seed) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " " + lti_discretization_name(method) + " Ch " +
               std::to_string(Ch) + " H " + std::to_string(H) + " M " + std::to_string(M) +
               " L " + std::to_string(L));
  Generator g(seed);
  Tensor C = Tensor::randn({Ch, H, M, 2}, DType::f64, &g).to(dt).to(DType::f64);
  Tensor step = Tensor::uniform({H}, 1e-3, 0.1, DType::f64, &g).to(dt).to(DType::f64);
  Tensor re = Tensor::uniform({H, M, 1}, -1.0, -0.05, DType::f64, &g);
  Tensor im = Tensor::uniform({H, M, 1}, 0.0, 3.14159 * double(M), DType::f64, &g);
  Tensor A = cat({re, im}, 2).to(dt).to(DType::f64);
  std::vector<Tensor> cpu = {C, step, A}, gpu;
  for (Tensor& t : cpu) t = t.detach().requires_grad_(true);
  for (const Tensor& t : cpu) gpu.push_back(t.detach().to(dt).to(Device::cuda(0)).requires_grad_(true));
  Tensor ref = vandermonde(cpu[0], cpu[1], cpu[2], L, method);
  Tensor out = vandermonde(gpu[0], gpu[1], gpu[2], L, method);
  ASSERT_EQ(out.device(), Device::cuda(0));
  // float32: angles Im(x) l of up to π L carry ~2^-24 π L of rounding on both devices alike.
  const double tol = dt == DType::f64 ? 1e-10 : 2e-4 * std::max(1.0, double(L) / 1000);
  EXPECT_LT(rel_err(out, ref), tol) << "kernel";
  Tensor v = Tensor::randn(ref.shape(), DType::f64, &g).to(dt).to(DType::f64);
  ref.backward(v);
  out.backward(v.to(dt).to(Device::cuda(0)));
  const char* names[] = {"C", "dt", "A"};
  for (size_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(gpu[i].grad().defined()) << names[i];
    EXPECT_LT(rel_err(gpu[i].grad(), cpu[i].grad()), tol) << "gradient of " << names[i];
  }
}

TEST_F(VandermondeCuda, MatchesCpu) {
  for (DType dt : {DType::f64, DType::f32}) {
    check_case(1, 8, 32, 1000, LtiDiscretization::zoh, dt, 1);
    check_case(2, 4, 32, 4096, LtiDiscretization::zoh, dt, 2);
    check_case(1, 3, 200, 513, LtiDiscretization::bilinear, dt, 3);
    check_case(2, 2, 5, 1, LtiDiscretization::bilinear, dt, 4);
  }
}

TEST_F(VandermondeCuda, S4dMixerMatchesCpu) {
  for (DType dt : {DType::f64, DType::f32})
    for (bool bidir : {false, true}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + (bidir ? " bidirectional" : " causal"));
      nn::S4dConfig cfg;
      cfg.d_model = 16;
      cfg.d_state = 64;
      cfg.dtype = dt;
      cfg.bidirectional = bidir;
      cfg.causal = !bidir;
      Generator g1(5), g2(5);
      nn::S4d cpu(cfg, g1), gpu(cfg, g2);
      gpu.to(Device::cuda(0));
      Generator gx(6);
      Tensor x = Tensor::randn({3, 700, 16}, dt, &gx);
      Tensor yc = cpu.forward(x), yg = gpu.forward(x.to(Device::cuda(0)));
      const double tol = dt == DType::f64 ? 1e-10 : 1e-4;
      EXPECT_LT(rel_err(yg, yc), tol) << "output";
      Tensor v = Tensor::randn(yc.shape(), dt, &gx);
      yc.backward(v);
      yg.backward(v.to(Device::cuda(0)));
      auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
      for (size_t i = 0; i < pc.size(); ++i)
        EXPECT_LT(rel_err(pg[i].second.grad(), pc[i].second.grad()), tol) << "gradient of "
                                                                          << pc[i].first;
    }
}

TEST_F(VandermondeCuda, S4dStepOnCuda) {
  nn::S4dConfig cfg;
  cfg.d_model = 8;
  cfg.d_state = 16;
  cfg.dtype = DType::f64;
  Generator g(7);
  nn::S4d m(cfg, g);
  m.to(Device::cuda(0));
  Generator gx(8);
  Tensor x = Tensor::randn({2, 12, 8}, DType::f64, &gx).to(Device::cuda(0));
  Tensor y = m.forward(x);
  auto st = m.new_state(2);
  for (int64_t t = 0; t < 12; ++t)
    EXPECT_LT(rel_err(m.step(x.select(1, t), *st), y.select(1, t)), 1e-10) << "step " << t;
}

}  // namespace
}  // namespace ssm::testing
