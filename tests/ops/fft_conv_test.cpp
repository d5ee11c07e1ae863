// ops/fft_conv beyond the OpInfo table: outputs and all gradients against the direct O(L^2) sums
// at lengths from 1 to several hundred (odd, prime, kernels shorter than L, the bidirectional
// form), a channel-last input, the FFT length, and the errors.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/fft_conv.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

struct Direct {
  std::vector<double> y, du, dk, dkr;
};

// The definition (ops/fft_conv.h) as loops, with the gradients of sum(y * g):
//   du[j] = sum_s k[s] g[j + s] + sum_s k_rev[s] g[j - 1 - s]
//   dk[s] = sum_{b,t} g[t] u[t - s],  dk_rev[s] = sum_{b,t} g[t] u[t + 1 + s]
Direct direct(const Tensor& ut, const Tensor& kt, const Tensor& krt, const Tensor& gt) {
  int64_t B = ut.size(0), H = ut.size(1), L = ut.size(2), Lk = kt.size(1);
  int64_t Lr = krt.defined() ? krt.size(1) : 0;
  auto u = ut.to(DType::f64).to_vector<double>(), k = kt.to(DType::f64).to_vector<double>();
  auto g = gt.to(DType::f64).to_vector<double>();
  std::vector<double> kr = krt.defined() ? krt.to(DType::f64).to_vector<double>() : std::vector<double>();
  Direct d;
  d.y.assign(size_t(B * H * L), 0);
  d.du.assign(size_t(B * H * L), 0);
  d.dk.assign(size_t(H * Lk), 0);
  d.dkr.assign(size_t(H * Lr), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h) {
      size_t row = size_t((b * H + h) * L);
      for (int64_t t = 0; t < L; ++t) {
        for (int64_t s = 0; s < Lk && s <= t; ++s) {
          d.y[row + t] += k[size_t(h * Lk + s)] * u[row + size_t(t - s)];
          d.du[row + size_t(t - s)] += k[size_t(h * Lk + s)] * g[row + t];
          d.dk[size_t(h * Lk + s)] += g[row + t] * u[row + size_t(t - s)];
        }
        for (int64_t s = 0; s < Lr && t + 1 + s < L; ++s) {
          d.y[row + t] += kr[size_t(h * Lr + s)] * u[row + size_t(t + 1 + s)];
          d.du[row + size_t(t + 1 + s)] += kr[size_t(h * Lr + s)] * g[row + t];
          d.dkr[size_t(h * Lr + s)] += g[row + t] * u[row + size_t(t + 1 + s)];
        }
      }
    }
  return d;
}

void check(int64_t B, int64_t H, int64_t L, int64_t Lk, int64_t Lr, DType dt, uint64_t seed) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " B " + std::to_string(B) + " H " + std::to_string(H) +
               " L " + std::to_string(L) + " Lk " + std::to_string(Lk) + " Lr " + std::to_string(Lr));
  Generator gen(seed);
  Tensor u = Tensor::randn({B, H, L}, dt, &gen).requires_grad_(true);
  Tensor k = Tensor::randn({H, Lk}, dt, &gen).requires_grad_(true);
  Tensor kr = Lr ? Tensor::randn({H, Lr}, dt, &gen).requires_grad_(true) : Tensor();
  Tensor g = Tensor::randn({B, H, L}, dt, &gen);
  Direct d = direct(u, k, kr, g);
  Tensor y = fft_conv(u, k, kr);
  y.backward(g);
  // Sums of up to L products of unit normals: errors grow like sqrt(L) ulps of |y| ~ sqrt(L).
  double s = std::sqrt(double(L));
  Tol tol = dt == DType::f64 ? Tol{1e-12 * s, 1e-10} : Tol{2e-5 * s, 1e-4, 2e-6};
  EXPECT_CLOSE(y.to(DType::f64), Tensor::from_vector(d.y, {B, H, L}), tol);
  EXPECT_CLOSE(u.grad().to(DType::f64), Tensor::from_vector(d.du, {B, H, L}), tol);
  // dk sums B times more terms
  Tol tk = tol;
  tk.atol *= std::sqrt(double(B));
  EXPECT_CLOSE(k.grad().to(DType::f64), Tensor::from_vector(d.dk, {H, Lk}), tk);
  if (Lr) EXPECT_CLOSE(kr.grad().to(DType::f64), Tensor::from_vector(d.dkr, {H, Lr}), tk);
}

TEST(FftConv, MatchesTheDirectSums) {
  uint64_t seed = 1;
  for (DType dt : {DType::f64, DType::f32}) {
    check(2, 3, 1, 1, 0, dt, seed++);
    check(2, 3, 2, 2, 0, dt, seed++);
    check(1, 2, 5, 3, 0, dt, seed++);
    check(3, 2, 64, 64, 0, dt, seed++);
    check(2, 3, 127, 100, 0, dt, seed++);  // prime L
    check(2, 2, 300, 17, 0, dt, seed++);   // short kernel
    check(1, 1, 1000, 1000, 0, dt, seed++);
    // bidirectional: S4's equal lengths, and unequal ones
    check(2, 2, 1, 1, 1, dt, seed++);
    check(2, 3, 64, 64, 64, dt, seed++);
    check(2, 2, 101, 5, 60, dt, seed++);
    check(1, 2, 257, 257, 3, dt, seed++);
  }
}

TEST(FftConv, ChannelLastInput) {
  // u stored (B, L, H) and passed as its (B, H, L) transpose: the op copies it once.
  Generator gen(9);
  Tensor ucl = Tensor::randn({2, 50, 3}, DType::f64, &gen);
  Tensor k = Tensor::randn({3, 20}, DType::f64, &gen);
  EXPECT_CLOSE(fft_conv(ucl.transpose(1, 2), k), fft_conv(ucl.transpose(1, 2).contiguous(), k),
               (Tol{0, 0}));
}

TEST(FftConv, FftLengthIsShortEnoughAndSmooth) {
  EXPECT_EQ(fft_conv_size(1000, 1000), 2000);    // >= 1999, even, 5-smooth
  EXPECT_EQ(fft_conv_size(1024, 1024), 2048);
  EXPECT_EQ(fft_conv_size(1024, 1024, 1024), 2048);
  EXPECT_EQ(fft_conv_size(100, 10), 120);  // >= 109: 110 = 2 * 5 * 11 is not 5-smooth
}

TEST(FftConv, Errors) {
  Tensor u = Tensor::randn({2, 3, 8}), k = Tensor::randn({3, 4});
  EXPECT_NE(error_of([&] { fft_conv(u, Tensor::randn({3, 9})); }).find("slice them off"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fft_conv(u, Tensor::randn({2, 4})); }).find("(channels, length)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fft_conv(u, k.to(DType::f64)); }).find("u's dtype"), std::string::npos);
  EXPECT_NE(error_of([&] { fft_conv(u.to(DType::bf16), k.to(DType::bf16)); }).find("float32 or float64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fft_conv(u.view({6, 8}), k); }).find("3-D"), std::string::npos);
  EXPECT_NE(error_of([&] { fft_conv(u, k, Tensor::randn({3, 9})); }).find("k_rev"), std::string::npos);
}

}  // namespace
}  // namespace ssm::testing
