// ops/cross_entropy beyond the OpInfo table: every error path, ignore_index corner cases, the
// fused kernel against the composite log_softmax formula on a language-model-sized problem,
// masked (-inf) logits, bf16 logits.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/softmax.h"
#include "support/compare.h"

namespace ssm {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

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

Tensor targets(std::vector<int64_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

TEST(CrossEntropy, OutOfRangeTargetsNameThePositionValueAndC) {
  Tensor x = Tensor::zeros({4, 3});
  EXPECT_ERROR(cross_entropy(x, targets({0, 1, 3, 2}, {4})), "cross_entropy",
               "position (2)", "is 3", "C = 3");
  EXPECT_ERROR(cross_entropy(x, targets({0, -1, 0, 2}, {4})), "position (1)", "is -1",
               "ignore_index -100");
  Tensor s = Tensor::zeros({2, 3, 4});
  EXPECT_ERROR(cross_entropy(s, targets({0, 1, 2, 0, 1, 2, 7, 0}, {2, 4})), "position (1, 2)",
               "is 7");
  // -100 is only special when it is the ignore_index.
  CrossEntropyOptions o;
  o.ignore_index = 0;
  EXPECT_ERROR(cross_entropy(x, targets({0, -100, 1, 1}, {4}), o), "is -100", "ignore_index 0");
}

TEST(CrossEntropy, BadArgumentsAreErrors) {
  Tensor x = Tensor::zeros({4, 3});
  CrossEntropyOptions o;
  o.label_smoothing = 1.5;
  EXPECT_ERROR(cross_entropy(x, targets({0, 1, 2, 0}, {4}), o), "label_smoothing", "1.5");
  o.label_smoothing = -0.1;
  EXPECT_ERROR(cross_entropy(x, targets({0, 1, 2, 0}, {4}), o), "label_smoothing");
  o.label_smoothing = std::nan("");
  EXPECT_ERROR(cross_entropy(x, targets({0, 1, 2, 0}, {4}), o), "label_smoothing");
  EXPECT_ERROR(cross_entropy(x, Tensor::zeros({4})), "target", "int64 or int32", "float32");
  EXPECT_ERROR(cross_entropy(x, targets({0, 1, 2}, {3})), "target", "(3,)", "expected target shape (4,)");
  EXPECT_ERROR(cross_entropy(Tensor::zeros({2, 3, 4}), targets({0, 1}, {2})), "expected target shape (2, 4)");
  EXPECT_ERROR(cross_entropy(Tensor::scalar(1.0), targets({0}, {})), "logits must have shape");
  EXPECT_ERROR(cross_entropy(Tensor::arange(6).reshape({2, 3}), targets({0, 1}, {2})),
               "logits must be a floating tensor");
  EXPECT_ERROR(cross_entropy(Tensor(), targets({0}, {1})), "cross_entropy", "logits");
}

TEST(CrossEntropy, AllIgnoredGivesNaNMeanZeroSumAndZeroGradients) {
  Tensor x = Tensor::ones({3, 4}, DType::f64).requires_grad_();
  Tensor t = targets({-100, -100, -100}, {3});
  Tensor loss = cross_entropy(x, t);
  EXPECT_TRUE(std::isnan(loss.item<double>()));
  loss.backward();
  for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
  CrossEntropyOptions o;
  o.reduction = Reduction::sum;
  o.label_smoothing = 0.3;
  EXPECT_EQ(cross_entropy(x, t, o).item<double>(), 0.0);
  o.reduction = Reduction::none;
  EXPECT_EQ(cross_entropy(x, t, o).to_vector<double>(), (std::vector<double>{0, 0, 0}));
}

TEST(CrossEntropy, EmptyBatch) {
  Tensor x = Tensor::zeros({0, 5});
  Tensor t = Tensor::zeros({0}, DType::i64);
  EXPECT_TRUE(std::isnan(cross_entropy(x, t).item<double>()));
  CrossEntropyOptions o;
  o.reduction = Reduction::sum;
  EXPECT_EQ(cross_entropy(x, t, o).item<double>(), 0.0);
  o.reduction = Reduction::none;
  EXPECT_EQ(cross_entropy(x, t, o).shape(), (Shape{0}));
}

// A language-model-sized problem (B*L = 96 positions, V = 2000) against
// loss = mean(-log_softmax(x)[t]) and dx = (softmax(x) - onehot(t)) / count, computed here.
TEST(CrossEntropy, MatchesTheComposite) {
  Generator gen(9);
  const int64_t M = 96, V = 2000;
  Tensor x = (Tensor::randn({M, V}, DType::f32, &gen) * 3.0).detach().requires_grad_();
  Tensor t = Tensor::randint({M}, 0, V, DType::i64, &gen);
  std::vector<int64_t> tv = t.to_vector<int64_t>();
  tv[5] = -100;
  tv[50] = -100;
  t = targets(tv, {M});
  Tensor loss = cross_entropy(x, t);
  loss.backward();
  auto lp = log_softmax(x.detach().to(DType::f64), 1).to_vector<double>();
  double total = 0;
  std::vector<double> dx(size_t(M * V), 0.0);
  for (int64_t m = 0; m < M; ++m) {
    if (tv[m] == -100) continue;
    total -= lp[size_t(m * V + tv[m])];
    for (int64_t c = 0; c < V; ++c)
      dx[size_t(m * V + c)] = (std::exp(lp[size_t(m * V + c)]) - (c == tv[m])) / double(M - 2);
  }
  EXPECT_NEAR(loss.item<double>(), total / double(M - 2), 1e-5 * total / double(M - 2));
  EXPECT_CLOSE(x.grad(), Tensor::from_vector(dx, {M, V}), (testing::Tol{1e-8, 1e-4}));
}

TEST(CrossEntropy, MaskedLogitsAndLargeLogits) {
  // -inf on a non-target class is fine (no 0 * -inf); on the target the loss is inf.
  Tensor x = Tensor::from_vector(std::vector<double>{2, -kInf, 0, 1000, 999, -kInf}, {2, 3});
  CrossEntropyOptions o;
  o.reduction = Reduction::none;
  auto l = cross_entropy(x, targets({0, 1}, {2}), o).to_vector<double>();
  EXPECT_NEAR(l[0], std::log1p(std::exp(-2.0)), 1e-15);
  EXPECT_NEAR(l[1], std::log1p(std::exp(-1.0)) + 1.0, 1e-12);
  EXPECT_EQ(cross_entropy(x, targets({1, 0}, {2}), o).to_vector<double>()[0], kInf);
}

TEST(CrossEntropy, Bf16LogitsGiveABf16LossComputedInFloat32) {
  Generator gen(11);
  Tensor x = Tensor::randn({64, 500}, DType::f32, &gen).to(DType::bf16);
  Tensor t = Tensor::randint({64}, 0, 500, DType::i64, &gen);
  Tensor xb = x.detach().requires_grad_();
  Tensor loss = cross_entropy(xb, t);
  EXPECT_EQ(loss.dtype(), DType::bf16);
  Tensor xf = x.to(DType::f32).detach().requires_grad_();
  Tensor ref = cross_entropy(xf, t);
  EXPECT_NEAR(loss.item<double>(), ref.item<double>(), ref.item<double>() / 256);
  loss.backward();
  ref.backward();
  EXPECT_EQ(xb.grad().dtype(), DType::bf16);
  EXPECT_CLOSE(xb.grad().to(DType::f32), xf.grad(), (testing::Tol{1e-6, 1.0 / 128}));
}

TEST(CrossEntropy, NoneReductionKeepsTheTargetShape) {
  Generator gen(12);
  CrossEntropyOptions o;
  o.reduction = Reduction::none;
  Tensor x = Tensor::randn({2, 5, 3, 4}, DType::f32, &gen);
  Tensor t = Tensor::randint({2, 3, 4}, 0, 5, DType::i64, &gen);
  EXPECT_EQ(cross_entropy(x, t, o).shape(), (Shape{2, 3, 4}));
  EXPECT_EQ(cross_entropy(Tensor::randn({5}, DType::f32, &gen), targets({2}, {}), o).shape(), Shape{});
}

}  // namespace
}  // namespace ssm
