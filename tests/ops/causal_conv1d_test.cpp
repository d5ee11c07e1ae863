// ops/causal_conv1d beyond the OpInfo table: errors, a Mamba-sized case (D across several
// channel tiles) against a naive double reference forward and backward, causality, bf16, and
// weight/bias gradients that do not depend on the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/causal_conv1d.h"
#include "support/compare.h"

namespace ssm {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_ERROR(stmt, ...)                                           \
  do {                                                                    \
    std::string msg = error_of([&] { (void)(stmt); });                    \
    for (const char* part : {__VA_ARGS__})                                \
      EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg; \
  } while (0)

TEST(CausalConv1d, Errors) {
  Tensor x = Tensor::zeros({2, 5, 3});
  EXPECT_ERROR(causal_conv1d(Tensor::zeros({5, 3}), Tensor::zeros({3, 4})), "causal_conv1d",
               "3-D", "(5, 3)");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({4, 4})), "causal_conv1d", "weight", "(4, 4)");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({3})), "causal_conv1d", "weight");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({3, 1})), "causal_conv1d", "W = 1", "2 <= W <= 8");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({3, 9})), "W = 9");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({3, 4}), Tensor::zeros({4})), "bias", "(3,)");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({3, 4}, DType::f64)), "weight", "float64");
  EXPECT_ERROR(causal_conv1d(x, Tensor::zeros({3, 4}), Tensor::zeros({3}, DType::bf16)), "bias",
               "bfloat16");
  EXPECT_ERROR(causal_conv1d(Tensor::zeros({2, 5, 3}, DType::i32), Tensor::zeros({3, 4})),
               "floating");
}

struct Ref {
  std::vector<double> y, dx, dw, db;
};

// The definition, in double, with loops in the obvious order.
Ref naive(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& g) {
  int64_t B = x.size(0), L = x.size(1), D = x.size(2), W = w.size(1);
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  auto gv = g.to_vector<double>();
  Ref r{std::vector<double>(xv.size()), std::vector<double>(xv.size()),
        std::vector<double>(size_t(D * W)), std::vector<double>(size_t(D))};
  auto at = [&](int64_t bb, int64_t t, int64_t d) { return size_t((bb * L + t) * D + d); };
  for (int64_t bb = 0; bb < B; ++bb)
    for (int64_t t = 0; t < L; ++t)
      for (int64_t d = 0; d < D; ++d) {
        double s = bv[size_t(d)];
        for (int64_t k = 0; k < W; ++k) {
          int64_t ts = t - (W - 1) + k;
          if (ts < 0) continue;
          s += wv[size_t(d * W + k)] * xv[at(bb, ts, d)];
          r.dx[at(bb, ts, d)] += wv[size_t(d * W + k)] * gv[at(bb, t, d)];
          r.dw[size_t(d * W + k)] += gv[at(bb, t, d)] * xv[at(bb, ts, d)];
        }
        r.y[at(bb, t, d)] = s;
        r.db[size_t(d)] += gv[at(bb, t, d)];
      }
  return r;
}

// Mamba-130M's conv: D = 1536 (6 tiles of 256), W = 4; a short L keeps the test fast.
TEST(CausalConv1d, MambaSizedAgainstNaive) {
  Generator gen(1);
  const int64_t B = 2, L = 17, D = 1536, W = 4;
  Tensor x = Tensor::randn({B, L, D}, DType::f32, &gen).requires_grad_();
  Tensor w = Tensor::randn({D, W}, DType::f32, &gen).requires_grad_();
  Tensor b = Tensor::randn({D}, DType::f32, &gen).requires_grad_();
  Tensor g = Tensor::randn({B, L, D}, DType::f32, &gen);
  Tensor y = causal_conv1d(x, w, b);
  y.backward(g);
  Ref r = naive(x.detach(), w.detach(), b.detach(), g);
  testing::Tol tol{1e-4, 1e-4};
  EXPECT_CLOSE(y, Tensor::from_vector(r.y, {B, L, D}), tol);
  EXPECT_CLOSE(x.grad(), Tensor::from_vector(r.dx, {B, L, D}), tol);
  EXPECT_CLOSE(w.grad(), Tensor::from_vector(r.dw, {D, W}), tol);
  EXPECT_CLOSE(b.grad(), Tensor::from_vector(r.db, {D}), tol);
}

TEST(CausalConv1d, OutputsDoNotSeeTheFuture) {
  Generator gen(2);
  Tensor x = Tensor::randn({1, 12, 5}, DType::f64, &gen);
  Tensor w = Tensor::randn({5, 3}, DType::f64, &gen);
  Tensor y0 = causal_conv1d(x, w);
  Tensor x2 = x.clone();
  x2.narrow(1, 7, 5).fill_(100.0);  // change times 7..11
  Tensor y1 = causal_conv1d(x2, w);
  EXPECT_CLOSE(y1.narrow(1, 0, 7), y0.narrow(1, 0, 7), (testing::Tol{0, 0}));
  EXPECT_GT(std::abs(y1.at({0, 7, 0}) - y0.at({0, 7, 0})), 1.0);
}

TEST(CausalConv1d, BFloat16) {
  Generator gen(3);
  Tensor x = Tensor::randn({2, 9, 40}, DType::f32, &gen).to(DType::bf16);
  Tensor w = Tensor::randn({40, 4}, DType::f32, &gen).to(DType::bf16);
  Tensor b = Tensor::randn({40}, DType::f32, &gen).to(DType::bf16);
  Tensor y = causal_conv1d(x, w, b);
  EXPECT_EQ(y.dtype(), DType::bf16);
  Tensor ref = causal_conv1d(x.to(DType::f64), w.to(DType::f64), b.to(DType::f64));
  EXPECT_CLOSE(y.to(DType::f64), ref, testing::default_tol(DType::bf16));
}

TEST(CausalConv1d, ParameterGradientsDoNotDependOnThreadCount) {
  Generator gen(4);
  Tensor x = Tensor::randn({4, 300, 64}, DType::f32, &gen);
  Tensor g = Tensor::randn({4, 300, 64}, DType::f32, &gen);
  Tensor w0 = Tensor::randn({64, 4}, DType::f32, &gen), b0 = Tensor::randn({64}, DType::f32, &gen);
  auto grads = [&](int threads) {
    set_num_threads(threads);
    Tensor xl = x.detach().requires_grad_(), w = w0.detach().requires_grad_();
    Tensor b = b0.detach().requires_grad_();
    causal_conv1d(xl, w, b).backward(g);
    return std::vector<Tensor>{xl.grad(), w.grad(), b.grad()};
  };
  int before = num_threads();
  auto g1 = grads(1), g2 = grads(2);
  set_num_threads(before);
  for (size_t k = 0; k < g1.size(); ++k) EXPECT_CLOSE(g1[k], g2[k], (testing::Tol{0, 0}));
}

}  // namespace
}  // namespace ssm
