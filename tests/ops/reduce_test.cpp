// ops/reduce beyond the OpInfo table: errors, integer and bool inputs, ties and NaN in max/min,
// argmax/argmin, empty reductions, long rows (the blocked path) against a naive double
// reference, thread-count independence and numerical stability.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::default_tol;
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_ERROR(stmt, ...)                                       \
  do {                                                                \
    std::string msg = error_of([&] { (void)(stmt); });                \
    for (const char* part : {__VA_ARGS__})                            \
      EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg; \
  } while (0)

Tensor vec(std::vector<double> v) {
  int64_t n = int64_t(v.size());
  return Tensor::from_vector(v, {n});
}

TEST(Reduce, BadDimsAreErrors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR(sum(x, {2}), "sum", "dim 2 is out of range");
  EXPECT_ERROR(max(x, {-3}), "max", "dim -3 is out of range");
  EXPECT_ERROR(mean(x, {1, -1}), "mean", "dim -1 appears more than once", "[1, -1]");
  EXPECT_ERROR(argmax(x, 5), "argmax", "dim 5");
  EXPECT_ERROR(logsumexp(x, {0, 0}), "logsumexp", "appears more than once");
}

TEST(Reduce, WrongDtypesAreErrors) {
  Tensor i = Tensor::arange(6).reshape({2, 3});
  EXPECT_ERROR(mean(i, {1}), "mean", "floating", "int64");
  EXPECT_ERROR(var(i, {1}), "var", "floating");
  EXPECT_ERROR(logsumexp(i, {1}), "logsumexp", "floating");
  Tensor c = Tensor::zeros({2, 2}, DType::c64);
  EXPECT_ERROR(sum(c), "sum", "complex", "view_as_real");
  EXPECT_ERROR(max(c), "max", "complex");
  EXPECT_ERROR(sum(Tensor()), "sum");
  EXPECT_ERROR(var(Tensor::zeros({3}), {}, false, kNaN), "var", "correction");
}

TEST(Reduce, EmptySetsForMaxMinAndArgAreErrors) {
  Tensor e = Tensor::zeros({3, 0});
  EXPECT_ERROR(max(e, {1}), "max", "empty", "(3, 0)");
  EXPECT_ERROR(min(e), "min", "empty");
  EXPECT_ERROR(argmax(e, 1), "argmax", "empty");
  EXPECT_ERROR(argmin(e), "argmin", "empty");
  // Reducing the non-empty dim of an empty tensor is fine: no results to compute.
  EXPECT_EQ(max(e, {0}).shape(), (Shape{0}));
}

TEST(Reduce, EmptySetsFollowPyTorch) {
  Tensor e = Tensor::zeros({0, 3});
  EXPECT_EQ(sum(e, {0}).to_vector<double>(), (std::vector<double>{0, 0, 0}));
  for (double v : mean(e, {0}).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
  for (double v : var(e, {0}).to_vector<double>()) EXPECT_TRUE(std::isnan(v));
  for (double v : logsumexp(e, {0}).to_vector<double>()) EXPECT_EQ(v, -kInf);
}

TEST(Reduce, ShapesWithAndWithoutKeepdim) {
  Tensor x = Tensor::zeros({2, 3, 4});
  EXPECT_EQ(sum(x, {0, 2}).shape(), (Shape{3}));
  EXPECT_EQ(sum(x, {2, 0}, true).shape(), (Shape{1, 3, 1}));
  EXPECT_EQ(max(x, {}, true).shape(), (Shape{1, 1, 1}));
  EXPECT_EQ(var(x).shape(), Shape{});
  EXPECT_EQ(argmax(x, -2, true).shape(), (Shape{2, 1, 4}));
  EXPECT_EQ(argmax(x).shape(), Shape{});
  Tensor s = Tensor::scalar(2.5);
  EXPECT_EQ(sum(s, {0}).item<double>(), 2.5);
  EXPECT_EQ(logsumexp(s, {-1}, true).shape(), Shape{});
}

TEST(Reduce, IntegerAndBoolInputs) {
  Tensor i = Tensor::from_vector(std::vector<int32_t>{3, -7, 5, 5, 2, -7}, {2, 3});
  Tensor s = sum(i, {1});
  EXPECT_EQ(s.dtype(), DType::i64);
  EXPECT_EQ(s.to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
  Tensor m = max(i, {0});
  EXPECT_EQ(m.dtype(), DType::i32);
  EXPECT_EQ(m.to_vector<int32_t>(), (std::vector<int32_t>{5, 2, 5}));
  EXPECT_EQ(min(i).item<int64_t>(), -7);
  EXPECT_EQ(argmin(i).item<int64_t>(), 1);            // first of the two -7s
  EXPECT_EQ(argmax(i, 1).to_vector<int64_t>(), (std::vector<int64_t>{2, 0}));

  // int64 sums are exact beyond 2^24 (float32 would round).
  Tensor big = Tensor::from_vector(std::vector<int64_t>{(1 << 24) + 1, 1, 1}, {3});
  EXPECT_EQ(sum(big).item<int64_t>(), (1 << 24) + 3);

  Tensor b = Tensor::from_vector(std::vector<bool>{false, true, true, false}, {2, 2});
  EXPECT_EQ(sum(b).dtype(), DType::i64);
  EXPECT_EQ(sum(b).item<int64_t>(), 2);
  EXPECT_EQ(max(b, {1}).dtype(), DType::b8);
  EXPECT_EQ(max(b, {1}).to_vector<double>(), (std::vector<double>{1, 1}));
  EXPECT_EQ(min(b, {1}).to_vector<double>(), (std::vector<double>{0, 0}));
  EXPECT_EQ(argmax(b, 1).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
}

TEST(Reduce, MaxGradientGoesToTheFirstTiedElement) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 3, 3, 2, -1, -4, 0, -4}, {2, 4})
                 .requires_grad_();
  Tensor m = max(x, {1});
  EXPECT_EQ(m.to_vector<double>(), (std::vector<double>{3, 0}));
  m.backward(vec({10, 20}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{0, 10, 0, 0, 0, 0, 20, 0}));

  x.zero_grad();
  min(x, {1}).backward(vec({10, 20}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{10, 0, 0, 0, 0, 20, 0, 0}));
}

TEST(Reduce, MaxGradientOverNonAdjacentDimsHitsTheRightElement) {
  // x: (2, 3, 2), reduce dims 0 and 2: each of the 3 results picks one of 4 elements.
  std::vector<double> v(12);
  for (int i = 0; i < 12; ++i) v[i] = double((i * 7) % 12);
  Tensor x = Tensor::from_vector(v, {2, 3, 2}).requires_grad_();
  Tensor m = max(x, {0, 2});
  m.backward(vec({1, 2, 3}));
  std::vector<double> expected(12, 0.0);
  for (int j = 0; j < 3; ++j) {
    int best = -1;
    for (int a = 0; a < 2; ++a)
      for (int k = 0; k < 2; ++k) {
        int i = a * 6 + j * 2 + k;
        if (best < 0 || v[i] > v[best]) best = i;
      }
    EXPECT_EQ(m.to_vector<double>()[j], v[best]);
    expected[best] = j + 1;
  }
  EXPECT_EQ(x.grad().to_vector<double>(), expected);
}

TEST(Reduce, NaNPropagatesThroughMaxMinAndArg) {
  Tensor x = vec({1, kNaN, 5, kNaN});
  EXPECT_TRUE(std::isnan(max(x).item<double>()));
  EXPECT_TRUE(std::isnan(min(x).item<double>()));
  EXPECT_EQ(argmax(x).item<int64_t>(), 1);
  EXPECT_EQ(argmin(x, 0).item<int64_t>(), 1);
  EXPECT_EQ(max(vec({-kInf, -kInf})).item<double>(), -kInf);
}

TEST(Reduce, LogsumexpIsStable) {
  EXPECT_NEAR(logsumexp(vec({1000, 1000}), {0}).item<double>(), 1000 + std::log(2.0), 1e-9);
  EXPECT_NEAR(logsumexp(vec({-1000, -1000}), {0}).item<double>(), -1000 + std::log(2.0), 1e-9);
  Tensor f = Tensor::from_vector(std::vector<float>{88, 89, 90}, {3});  // exp overflows float32
  EXPECT_NEAR(logsumexp(f, {0}).item<double>(), 90 + std::log(1 + std::exp(-1) + std::exp(-2)), 1e-4);
  EXPECT_EQ(logsumexp(vec({-kInf, -kInf}), {0}).item<double>(), -kInf);
  EXPECT_EQ(logsumexp(vec({kInf, 1}), {0}).item<double>(), kInf);
  EXPECT_NEAR(logsumexp(vec({-kInf, 0}), {0}).item<double>(), 0.0, 1e-15);
}

TEST(Reduce, VarIsAccurateForLargeOffsetsAndFollowsCorrection) {
  // A naive E[x^2] - E[x]^2 loses everything here; the two-pass form does not.
  Tensor x = vec({1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4});
  EXPECT_NEAR(var(x).item<double>(), 5.0 / 3.0, 1e-9);
  EXPECT_NEAR(var(x, {0}, false, 0.0).item<double>(), 1.25, 1e-9);
  EXPECT_EQ(var(vec({1, 2}), {0}, false, 2.0).item<double>(), kInf);  // 0.5 / max(0, 2 - 2)
  EXPECT_TRUE(std::isnan(var(vec({3})).item<double>()));              // 0 / 0, as PyTorch
}

// Rows longer than one block (4096): the partial states of fixed blocks are combined.
TEST(Reduce, LongRowsMatchANaiveDoubleReference) {
  Generator gen(3);
  const int64_t A = 3, R = 10007;
  Tensor x = Tensor::randn({A, R}, DType::f32, &gen);
  x = x * 3.0 + 2.0;
  auto v = x.to_vector<double>();
  std::vector<double> s(A), mx(A), lse(A), vr(A);
  std::vector<int64_t> am(A);
  for (int64_t a = 0; a < A; ++a) {
    double sum = 0, best = -kInf;
    for (int64_t r = 0; r < R; ++r) {
      double e = v[a * R + r];
      sum += e;
      if (e > best) {
        best = e;
        am[a] = r;
      }
    }
    double mean = sum / R, ss = 0, es = 0;
    for (int64_t r = 0; r < R; ++r) {
      ss += (v[a * R + r] - mean) * (v[a * R + r] - mean);
      es += std::exp(v[a * R + r] - best);
    }
    s[a] = sum;
    mx[a] = best;
    vr[a] = ss / (R - 1);
    lse[a] = best + std::log(es);
  }
  testing::Tol tol = default_tol(DType::f32);
  EXPECT_CLOSE(sum(x, {1}), Tensor::from_vector(s, {A}), tol);
  EXPECT_CLOSE(max(x, {1}), Tensor::from_vector(mx, {A}), (testing::Tol{0, 0}));
  EXPECT_EQ(argmax(x, 1).to_vector<int64_t>(), am);
  EXPECT_CLOSE(var(x, {1}), Tensor::from_vector(vr, {A}), tol);
  EXPECT_CLOSE(logsumexp(x, {1}), Tensor::from_vector(lse, {A}), tol);
  // The same over the leading dim of the transpose (a copy to rows first).
  EXPECT_CLOSE(var(x.t(), {0}), Tensor::from_vector(vr, {A}), tol);
  EXPECT_EQ(argmax(x.t(), 0).to_vector<int64_t>(), am);
}

TEST(Reduce, ResultsDoNotDependOnTheThreadCount) {
  Generator gen(5);
  Tensor x = Tensor::randn({5, 9001}, DType::f32, &gen);
  Tensor y = Tensor::randn({300, 40}, DType::f32, &gen);
  int saved = num_threads();
  auto run = [&] {
    return std::vector<std::vector<float>>{
        var(x, {1}).to_vector<float>(), logsumexp(x, {1}).to_vector<float>(),
        var(x).to_vector<float>(), logsumexp(y, {0}).to_vector<float>(),
        mean(y, {1}).to_vector<float>()};
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(std::max(saved, 2));
  auto many = run();
  set_num_threads(saved);
  EXPECT_EQ(one, many);
}

TEST(Reduce, LowPrecisionMeanAndVarAccumulateInDouble) {
  // 10000 bf16 ones plus one 2: a bf16 accumulator would stall at 256.
  std::vector<float> v(10001, 1.0f);
  v[5000] = 2.0f;
  Tensor x = Tensor::from_vector(v, {10001}).to(DType::bf16);
  EXPECT_EQ(sum(x).dtype(), DType::bf16);
  EXPECT_NEAR(sum(x).item<double>(), 10002.0, 10002.0 / 128);
  EXPECT_NEAR(mean(x).item<double>(), 10002.0 / 10001.0, 1.0 / 128);
  EXPECT_NEAR(var(x).item<double>(), 1e-4, 1e-6);
}

TEST(Reduce, WholeTensorOverloadsReduceEverything) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, -2, 3, 6}, {2, 2});
  EXPECT_EQ(sum(x).item<double>(), 8);
  EXPECT_EQ(mean(x).item<double>(), 2);
  EXPECT_EQ(max(x).item<double>(), 6);
  EXPECT_EQ(min(x).item<double>(), -2);
  EXPECT_NEAR(var(x).item<double>(), 11.333333333333334, 1e-12);
  EXPECT_EQ(argmax(x).item<int64_t>(), 3);
  EXPECT_EQ(argmin(x).item<int64_t>(), 1);
}

TEST(Reduce, ArgmaxIsNotDifferentiable) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor i = argmax(x, 0);
  EXPECT_EQ(i.dtype(), DType::i64);
  EXPECT_FALSE(i.requires_grad());
}

}  // namespace
}  // namespace ssm
