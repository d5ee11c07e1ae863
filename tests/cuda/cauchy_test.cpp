// cauchy on CUDA against the float64 CPU op at S4's shapes (the four Cauchy sums of a rank-1 S4
// layer: batch (2, 2), H 16, M 32, and the nodes of l_max = 1k and 4k, whose last is the
// near-infinite ω = -1 node), outputs and the gradients of v and w; and the S4 mixer on CUDA
// against the CPU (forward, input and parameter gradients).
#include <cmath>
#include <complex>
#include <numbers>

#include "core/autograd.h"
#include "nn/s4.h"
#include "ops/cauchy.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using CauchyCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed, double scale = 1.0) {
  Generator g(seed);
  return mul(Tensor::randn(s, DType::f64, &g), scale);
}

// S4's nodes for kernel length L: 2(1 - ω^j)/(1 + ω^j), ω = e^{-2πi/L}, j <= L/2.
Tensor s4_nodes(int64_t L, const Tensor& like) {
  std::vector<double> z;
  for (int64_t j = 0; j <= L / 2; ++j) {
    std::complex<double> w = std::polar(1.0, -2.0 * std::numbers::pi * double(j) / double(L));
    std::complex<double> v = 2.0 * (1.0 - w) / (1.0 + w);
    z.push_back(v.real());
    z.push_back(v.imag());
  }
  return Tensor::from_vector(z, {L / 2 + 1, 2}).to(like.dtype()).to(like.device());
}

// Poles Δλ with Re < 0, as S4's (Δ in [1e-3, 0.1], Re λ = -1/2, |Im λ| up to ~N), real parts
// at most -re_min.
Tensor poles(int64_t H, int64_t M, uint64_t seed, double re_min) {
  Generator g(seed);
  Tensor re = mul(Tensor::rand({H, M, 1}, DType::f64, &g), -0.05);
  Tensor im = mul(Tensor::rand({H, M, 1}, DType::f64, &g), -3.0);
  return cat({sub(re, re_min), im}, -1);
}

TEST_F(CauchyCuda, MatchesCpu) {
  for (DType dt : {DType::f64, DType::f32})
    for (int64_t L : {1024, 4096}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " L " + std::to_string(L));
      auto f = [L](const std::vector<Tensor>& in) { return cauchy(in[0], in[1], s4_nodes(L, in[0])); };
      // Sums over F nodes (the v gradient) and over M poles: scale with their square roots.
      double s = std::sqrt(double(L));
      Tol tol = dt == DType::f64 ? Tol{1e-10 * s, 1e-9} : Tol{5e-5 * s, 1e-4, 2e-5};
      // The imaginary nodes pass within |Re Δλ| of a pole: a term's relative error is about
      // eps |z| / |z - w|, the inputs' own rounding, on every device. Float64 takes poles 1e-3
      // from the axis (S4's smallest Δ); float32 1e-2, where that bound stays near 1e-5.
      double re_min = dt == DType::f64 ? 1e-3 : 1e-2;
      uint64_t seed = uint64_t(L);
      check_dense(f, {rn({2, 2, 16, 32, 2}, seed), poles(16, 32, seed + 1, re_min)}, dt, tol, seed + 2);
      check_dense(f, {rn({3, 300, 2}, seed + 3), poles(3, 300, seed + 4, re_min)}, dt, tol, seed + 5);
    }
}

TEST_F(CauchyCuda, S4MixerMatchesCpu) {
  for (bool bidirectional : {false, true}) {
    SCOPED_TRACE(bidirectional ? "bidirectional" : "causal");
    nn::S4Config c;
    c.d_model = 32;
    c.d_state = 16;
    c.l_max = 300;
    c.bidirectional = bidirectional;
    c.causal = !bidirectional;
    Generator g1(3), g2(3);
    nn::S4 cpu(c, g1), gpu(c, g2);
    gpu.to(Device::cuda(0));
    Tensor x = rn({2, 257, 32}, 9).to(DType::f32);
    Tensor gy = rn({2, 257, 32}, 10).to(DType::f32);
    Tensor xc = x.detach().requires_grad_(true), xg = x.to(Device::cuda(0)).requires_grad_(true);
    Tensor yc = cpu.forward(xc), yg = gpu.forward(xg);
    yc.backward(gy);
    yg.backward(gy.to(Device::cuda(0)));
    Tol tol{2e-4, 2e-3, 1e-4};
    EXPECT_CLOSE(yg.cpu(), yc, tol);
    EXPECT_CLOSE(xg.grad().cpu(), xc.grad(), tol);
    auto pc = cpu.named_parameters(), pg = gpu.named_parameters();
    for (size_t i = 0; i < pc.size(); ++i) {
      SCOPED_TRACE(pc[i].first);
      // Parameter gradients sum over B L positions: a looser aggregate bound.
      EXPECT_CLOSE(pg[i].second.grad().cpu(), pc[i].second.grad(), (Tol{2e-3, 5e-3, 1e-3}));
    }
  }
}

}  // namespace
}  // namespace ssm::testing
