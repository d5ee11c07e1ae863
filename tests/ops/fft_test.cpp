// ops/fft beyond the OpInfo table: every length 1..64 and larger smooth, prime (Bluestein) and
// 2 x prime lengths against a plain O(n^2) DFT in float64 and float32, round trips, irfft's
// Hermitian conventions, transforms along any dim, thread-count independence, the plan cache
// and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/fft.h"
#include "ops/fft_plan.h"
#include "ops/reduce.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

using cd = std::complex<double>;

// The DFT by its definition in long double, from a table of the n roots of unity (index jk mod n).
std::vector<cd> dft(const std::vector<cd>& x, int64_t n, bool inverse) {
  std::vector<long double> c(static_cast<size_t>(n)), s(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    long double a = (inverse ? 2 : -2) * std::numbers::pi_v<long double> * (long double)i / (long double)n;
    c[size_t(i)] = std::cos(a);
    s[size_t(i)] = std::sin(a);
  }
  std::vector<cd> X(static_cast<size_t>(n));
  for (int64_t k = 0; k < n; ++k) {
    long double re = 0, im = 0;
    for (int64_t j = 0; j < n && j < int64_t(x.size()); ++j) {
      size_t e = size_t((j * k) % n);
      re += x[size_t(j)].real() * c[e] - x[size_t(j)].imag() * s[e];
      im += x[size_t(j)].real() * s[e] + x[size_t(j)].imag() * c[e];
    }
    X[size_t(k)] = cd(double(re), double(im));
  }
  return X;
}

// (rows, len, 2) real pairs <-> complex rows.
std::vector<cd> row(const Tensor& t, int64_t r) {
  std::vector<double> v = t.select(0, r).contiguous().to(DType::f64).to_vector<double>();
  std::vector<cd> c(v.size() / 2);
  for (size_t i = 0; i < c.size(); ++i) c[i] = cd(v[2 * i], v[2 * i + 1]);
  return c;
}

Tensor pairs(const std::vector<std::vector<cd>>& rows) {
  std::vector<double> v;
  for (const auto& r : rows)
    for (cd c : r) {
      v.push_back(c.real());
      v.push_back(c.imag());
    }
  return Tensor::from_vector(v, {int64_t(rows.size()), int64_t(rows[0].size()), 2});
}

// float64: rounding of O(log n) stages on values of size sqrt(n); float32 likewise at 2^-24.
Tol tol_for(DType dt, int64_t n) {
  double scale = std::sqrt(double(std::max<int64_t>(n, 1)));
  return dt == DType::f64 ? Tol{1e-12 * scale, 1e-11} : Tol{3e-6 * scale, 2e-5, 3e-6};
}

std::vector<int64_t> lengths() {
  std::vector<int64_t> v;
  for (int64_t n = 1; n <= 64; ++n) v.push_back(n);
  // smooth, 7 x 11 x 13 (generic radices), primes above kMaxRadix (Bluestein), 2 x prime (the
  // real transform's half length is prime), a large power of two
  for (int64_t n : {96, 100, 1001, 127, 257, 1009, 2039, 2 * 1009, 4096}) v.push_back(n);
  return v;
}

TEST(Fft, EveryLengthMatchesTheDefinition) {
  Generator g(3);
  for (DType dt : {DType::f64, DType::f32})
    for (int64_t n : lengths()) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " n " + std::to_string(n));
      Tensor x = Tensor::randn({2, n, 2}, DType::f64, &g).to(dt);
      Tensor xr = Tensor::randn({2, n}, DType::f64, &g).to(dt);
      std::vector<std::vector<cd>> f, fi, r, ri;
      for (int64_t b = 0; b < 2; ++b) {
        f.push_back(dft(row(x, b), n, false));
        std::vector<cd> inv = dft(row(x, b), n, true);
        for (cd& c : inv) c /= double(n);
        fi.push_back(inv);
        std::vector<double> v = xr.select(0, b).to(DType::f64).to_vector<double>();
        std::vector<cd> xc(v.begin(), v.end());
        std::vector<cd> full = dft(xc, n, false);
        r.push_back(std::vector<cd>(full.begin(), full.begin() + n / 2 + 1));
      }
      EXPECT_CLOSE(fft(x).to(DType::f64), pairs(f), tol_for(dt, n));
      EXPECT_CLOSE(ifft(x).to(DType::f64), pairs(fi), tol_for(dt, 1));
      EXPECT_CLOSE(rfft(xr).to(DType::f64), pairs(r), tol_for(dt, n));
      // irfft of a Hermitian spectrum gives the signal back.
      EXPECT_CLOSE(irfft(rfft(xr), n).to(DType::f64), xr.to(DType::f64), tol_for(dt, 1));
      EXPECT_CLOSE(ifft(fft(x)).to(DType::f64), x.to(DType::f64), tol_for(dt, 1));
    }
}

TEST(Fft, IrfftIsTheHermitianInverse) {
  // x[j] = (1/n) sum_{k<F} c_k Re(X[k] e^{2 pi i jk/n}); the imaginary parts of bin 0 and of bin
  // n/2 (even n) do not enter.
  Generator g(5);
  for (int64_t n : {8, 9, 74, 37}) {
    SCOPED_TRACE("n " + std::to_string(n));
    int64_t F = n / 2 + 1;
    Tensor X = Tensor::randn({1, F, 2}, DType::f64, &g);
    std::vector<cd> bins = row(X, 0);
    std::vector<double> want(static_cast<size_t>(n));
    for (int64_t j = 0; j < n; ++j) {
      double s = 0;
      for (int64_t k = 0; k < F; ++k) {
        double c = k == 0 || 2 * k == n ? 1 : 2;
        double a = 2 * std::numbers::pi * double((j * k) % n) / double(n);
        s += c * (bins[size_t(k)] * cd(std::cos(a), std::sin(a))).real();
      }
      want[size_t(j)] = s / double(n);
    }
    EXPECT_CLOSE(irfft(X, n), Tensor::from_vector(want, {1, n}), tol_for(DType::f64, 1));
    // The gradient of those imaginary parts is 0.
    Tensor Xg = X.detach().requires_grad_(true);
    sum(irfft(Xg, n)).backward();
    EXPECT_EQ(Xg.grad().at({0, 0, 1}), 0.0);
    if (n % 2 == 0) {
      EXPECT_EQ(Xg.grad().at({0, F - 1, 1}), 0.0);
    }
  }
}

TEST(Fft, AnyDimEqualsTheLastDimOfAPermutedTensor) {
  Generator g(11);
  Tensor x = Tensor::randn({3, 5, 4, 6}, DType::f64, &g);
  // rfft along dim 1 of a real (3, 5, 4, 6) tensor, and fft along complex dim 1 of (3, 5, 4, 3, 2)
  Tensor a = rfft(x, 7, 1);
  Tensor b = rfft(x.transpose(1, 3), 7, -1).transpose(1, 3);
  EXPECT_EQ(a.shape(), (Shape{3, 4, 4, 6, 2}));
  EXPECT_CLOSE(a, b.contiguous(), (Tol{0, 0}));
  Tensor z = Tensor::randn({3, 5, 4, 2}, DType::f64, &g);
  Tensor c = fft(z, -1, 1);
  Tensor d = fft(z.transpose(1, 2), -1, -1).transpose(1, 2);
  EXPECT_CLOSE(c, d.contiguous(), (Tol{0, 0}));
  EXPECT_CLOSE(irfft(c, 8, 0), irfft(c.transpose(0, 2), 8, 2).transpose(0, 2).contiguous(),
               (Tol{0, 0}));
}

TEST(Fft, ResultsDoNotDependOnTheThreadCount) {
  Generator g(13);
  Tensor x = Tensor::randn({64, 1000}, DType::f32, &g);
  int before = num_threads();
  set_num_threads(1);
  Tensor one = rfft(x, 1009), back1 = irfft(one, 1000);
  set_num_threads(std::max(2, before));
  Tensor many = rfft(x, 1009), back2 = irfft(many, 1000);
  set_num_threads(before);
  EXPECT_CLOSE(many, one, (Tol{0, 0}));
  EXPECT_CLOSE(back2, back1, (Tol{0, 0}));
}

TEST(Fft, PlansAreCachedAndBounded) {
  Tensor x = Tensor::ones({2, 4099});  // a new length: plans for 4099 and its Bluestein length
  rfft(x);
  int64_t after_first = fft_cpu::cached_plans();
  rfft(x);
  rfft(x);
  EXPECT_EQ(fft_cpu::cached_plans(), after_first);
  for (int64_t n = 200; n < 400; ++n) rfft(Tensor::ones({1, n}));
  EXPECT_LE(fft_cpu::cached_plans(), 4 * 64);  // four caches, each emptied when full
  EXPECT_EQ(fft_cpu::next_fast_size(1999, true), 2000);
  EXPECT_EQ(fft_cpu::next_fast_size(7), 8);
  EXPECT_EQ(fft_cpu::next_fast_size(1), 1);
  EXPECT_EQ(fft_cpu::next_fast_size(1, true), 2);
}

TEST(Fft, Errors) {
  Tensor x = Tensor::randn({2, 8});
  Tensor z = Tensor::randn({2, 8, 2});
  EXPECT_NE(error_of([&] { rfft(x.to(DType::bf16)); }).find("float32 or float64"), std::string::npos);
  EXPECT_NE(error_of([&] { fft(x); }).find("real pairs"), std::string::npos);
  EXPECT_NE(error_of([&] { fft(z.view_as_complex()); }).find("view_as_real"), std::string::npos);
  EXPECT_NE(error_of([&] { rfft(x, 0); }).find("n must be >= 1"), std::string::npos);
  EXPECT_NE(error_of([&] { irfft(Tensor::randn({2, 1, 2})); }).find("pass n"), std::string::npos);
  EXPECT_NE(error_of([&] { rfft(x, -1, 2); }).find("out of range"), std::string::npos);
  // dim counts complex dims: z has two, so dim 2 (the pair) is out of range
  EXPECT_NE(error_of([&] { fft(z, -1, 2); }).find("out of range"), std::string::npos);
}

TEST(Fft, EmptyBatch) {
  Tensor x = Tensor::randn({0, 8});
  EXPECT_EQ(rfft(x).shape(), (Shape{0, 5, 2}));
  EXPECT_EQ(irfft(rfft(x)).shape(), (Shape{0, 8}));
}

}  // namespace
}  // namespace ssm::testing
