// ops/attention beyond the OpInfo table: dropout against softmax + dropout + product with the
// same generator state (mask and gradients), a query with no key, causal masks with Lq != Lk,
// 16-bit inputs, and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/attention.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/reduce.h"
#include "ops/softmax.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

struct Grads3 {
  Tensor y, dq, dk, dv;
};

template <class F>
Grads3 run(const Tensor& q0, const Tensor& k0, const Tensor& v0, const Tensor& g, F f) {
  Tensor q = q0.detach().requires_grad_(true), k = k0.detach().requires_grad_(true),
         v = v0.detach().requires_grad_(true);
  Tensor y = f(q, k, v);
  y.backward(g);
  return {y.detach(), q.grad(), k.grad(), v.grad()};
}

void expect_same(const Grads3& a, const Grads3& e, Tol tol) {
  EXPECT_CLOSE(a.y, e.y, tol);
  EXPECT_CLOSE(a.dq, e.dq, tol);
  EXPECT_CLOSE(a.dk, e.dk, tol);
  EXPECT_CLOSE(a.dv, e.dv, tol);
}

TEST(Attention, DropoutIsSoftmaxThenDropoutWithTheSameGenerator) {
  Generator g(5);
  Tensor q = Tensor::randn({2, 3, 6, 4}, DType::f64, &g), k = Tensor::randn({2, 3, 7, 4}, DType::f64, &g),
         v = Tensor::randn({2, 3, 7, 5}, DType::f64, &g), gy = Tensor::randn({2, 3, 6, 5}, DType::f64, &g);
  Generator g1(99), g2(99);
  Grads3 fused = run(q, k, v, gy, [&](const Tensor& a, const Tensor& b, const Tensor& c) {
    AttentionOptions o;
    o.dropout = 0.3;
    o.gen = &g1;
    return attention(a, b, c, o);
  });
  Grads3 ref = run(q, k, v, gy, [&](const Tensor& a, const Tensor& b, const Tensor& c) {
    Tensor p = softmax(mul(matmul(a, b.transpose(-1, -2)), 0.5), -1);
    return matmul(dropout(p, 0.3, true, &g2), c);
  });
  expect_same(fused, ref, Tol{1e-12, 1e-10});
  // Not training: no dropout, and no counters drawn.
  AttentionOptions o;
  o.dropout = 0.3;
  o.training = false;
  Tensor p = softmax(mul(matmul(q, k.transpose(-1, -2)), 0.5), -1);
  EXPECT_CLOSE(attention(q, k, v, o), matmul(p, v), (Tol{1e-12, 1e-10}));
}

TEST(Attention, AQueryWithNoKeyGivesZeroAndZeroGradients) {
  Generator g(6);
  Tensor q = Tensor::randn({1, 3, 2}, DType::f64, &g), k = Tensor::randn({1, 4, 2}, DType::f64, &g),
         v = Tensor::randn({1, 4, 3}, DType::f64, &g), gy = Tensor::randn({1, 3, 3}, DType::f64, &g);
  // Row 1 may attend to nothing.
  Tensor mask = Tensor::from_vector(std::vector<double>{1, 1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 1}, {3, 4});
  mask = gt(mask, scalar_like(0.5, mask));
  AttentionOptions o;
  o.mask = mask;
  Grads3 r = run(q, k, v, gy, [&](const Tensor& a, const Tensor& b, const Tensor& c) {
    return attention(a, b, c, o);
  });
  EXPECT_CLOSE(r.y.select(1, 1), Tensor::zeros({1, 3}, DType::f64), (Tol{0, 0}));
  EXPECT_CLOSE(r.dq.select(1, 1), Tensor::zeros({1, 2}, DType::f64), (Tol{0, 0}));
  EXPECT_FALSE(std::isnan(sum(r.dk).item<double>()));
  EXPECT_FALSE(std::isnan(sum(r.dv).item<double>()));
}

TEST(Attention, CausalIsTopLeftAlignedLikeTorch) {
  Generator g(7);
  Tensor q = Tensor::randn({2, 3, 4}, DType::f64, &g), k = Tensor::randn({2, 5, 4}, DType::f64, &g),
         v = Tensor::randn({2, 5, 2}, DType::f64, &g);
  std::vector<double> keep(15, 0.0);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j <= i; ++j) keep[size_t(i * 5 + j)] = 1.0;
  Tensor m = Tensor::from_vector(keep, {3, 5});
  AttentionOptions causal, masked;
  causal.causal = true;
  masked.mask = gt(m, scalar_like(0.5, m));
  EXPECT_CLOSE(attention(q, k, v, causal), attention(q, k, v, masked), (Tol{1e-14, 1e-12}));
}

TEST(Attention, SixteenBitInputsComputeInFloat32) {
  Generator g(8);
  Tensor q = Tensor::randn({2, 5, 8}, DType::f32, &g), k = Tensor::randn({2, 5, 8}, DType::f32, &g),
         v = Tensor::randn({2, 5, 8}, DType::f32, &g);
  for (DType dt : {DType::bf16, DType::f16}) {
    Tensor y = attention(q.to(dt), k.to(dt), v.to(dt));
    EXPECT_EQ(y.dtype(), dt);
    Tensor ref = attention(q.to(dt).to(DType::f32), k.to(dt).to(DType::f32), v.to(dt).to(DType::f32));
    EXPECT_CLOSE(y.to(DType::f32), ref, (Tol{1e-2, 1e-2}));
  }
}

TEST(Attention, Errors) {
  Tensor q = Tensor::randn({2, 3, 4}), k = Tensor::randn({2, 5, 4}), v = Tensor::randn({2, 5, 6});
  EXPECT_NE(error_of([&] { attention(q, Tensor::randn({2, 5, 3}), v); }).find("features"), std::string::npos);
  EXPECT_NE(error_of([&] { attention(q, k, Tensor::randn({2, 4, 6})); }).find("k's length"), std::string::npos);
  EXPECT_NE(error_of([&] { attention(q, Tensor::randn({3, 5, 4}), Tensor::randn({3, 5, 6})); })
                .find("leading"),
            std::string::npos);
  EXPECT_NE(error_of([&] { attention(q, k, v.to(DType::f64)); }).find("one floating dtype"), std::string::npos);
  AttentionOptions o;
  o.mask = Tensor::randn({4, 5});
  EXPECT_NE(error_of([&] { attention(q, k, v, o); }).find("broadcast"), std::string::npos);
  o.mask = Tensor::randn({3, 5}).requires_grad_(true);
  EXPECT_NE(error_of([&] { attention(q, k, v, o); }).find("no gradient"), std::string::npos);
  o.mask = Tensor::zeros({3, 5}, DType::i64);
  EXPECT_NE(error_of([&] { attention(q, k, v, o); }).find("bool"), std::string::npos);
  AttentionOptions d;
  d.dropout = 1.0;
  EXPECT_NE(error_of([&] { attention(q, k, v, d); }).find("[0, 1)"), std::string::npos);
}

}  // namespace
}  // namespace ssm::testing
