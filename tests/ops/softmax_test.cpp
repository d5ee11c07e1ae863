// ops/softmax beyond the OpInfo table: errors, long rows, masking with -inf, the tile path
// (dim != last) against the row path, bf16 inputs, thread-count independence.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
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

TEST(Softmax, Errors) {
  EXPECT_ERROR(softmax(Tensor::arange(4), 0), "softmax", "floating", "int64");
  EXPECT_ERROR(log_softmax(Tensor::zeros({2, 3}), 2), "log_softmax", "dim 2 is out of range");
  EXPECT_ERROR(softmax(Tensor::zeros({2, 3}), -3), "softmax", "dim -3");
  EXPECT_ERROR(softmax(Tensor(), 0), "softmax");
  EXPECT_ERROR(softmax(Tensor::zeros({2}, DType::c64), 0), "softmax", "complex64");
}

TEST(Softmax, LongRowsSumToOneAndLogMatches) {
  Generator gen(1);
  Tensor x = Tensor::randn({4, 5000}, DType::f32, &gen) * 4.0;
  Tensor p = softmax(x, -1);
  Tensor lp = log_softmax(x, -1);
  auto pv = p.to_vector<double>(), lv = lp.to_vector<double>();
  for (int a = 0; a < 4; ++a) {
    double s = 0;
    for (int c = 0; c < 5000; ++c) s += pv[a * 5000 + c];
    EXPECT_NEAR(s, 1.0, 1e-5);
  }
  EXPECT_CLOSE(exp(lp), p, testing::default_tol(DType::f32));
  for (double v : lv) EXPECT_LE(v, 0.0);
}

TEST(Softmax, MaskedEntriesGetZeroProbabilityAndAllMaskedRowsNaN) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, -kInf, 2, -kInf, -kInf, -kInf}, {2, 3});
  auto p = softmax(x, 1).to_vector<double>();
  EXPECT_NEAR(p[0], 1 / (1 + std::exp(1.0)), 1e-15);
  EXPECT_EQ(p[1], 0.0);
  EXPECT_NEAR(p[2], 1 / (1 + std::exp(-1.0)), 1e-15);
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(std::isnan(p[i]));  // as PyTorch
  auto lp = log_softmax(x, 1).to_vector<double>();
  EXPECT_EQ(lp[1], -kInf);
  EXPECT_NEAR(lp[2], -std::log1p(std::exp(-1.0)), 1e-15);
}

TEST(Softmax, LargeLogitsDoNotOverflowInFloat32) {
  Tensor x = Tensor::from_vector(std::vector<float>{1000, 1001, 1002}, {3});
  auto p = softmax(x, 0).to_vector<double>();
  double z = std::exp(-2.0) + std::exp(-1.0) + 1.0;
  EXPECT_NEAR(p[2], 1 / z, 1e-6);
  EXPECT_NEAR(log_softmax(x, 0).to_vector<double>()[0], -2 - std::log(z), 1e-5);
}

// The tile path (softmax over a dim with trailing dims) computes the same arithmetic as the row
// path per row, so it must agree bit for bit, forward and backward.
TEST(Softmax, TilePathEqualsRowPath) {
  Generator gen(2);
  for (bool log : {false, true}) {
    Tensor x = Tensor::randn({3, 7, 130}, DType::f32, &gen);
    Tensor g = Tensor::randn({3, 7, 130}, DType::f32, &gen);
    Tensor a = x.detach().requires_grad_();
    Tensor ya = log ? log_softmax(a, 1) : softmax(a, 1);
    ya.backward(g);
    Tensor b = x.transpose(1, 2).contiguous().detach().requires_grad_();
    Tensor yb = log ? log_softmax(b, -1) : softmax(b, -1);
    yb.backward(g.transpose(1, 2).contiguous());
    EXPECT_EQ(ya.to_vector<float>(), yb.transpose(1, 2).to_vector<float>());
    EXPECT_EQ(a.grad().to_vector<float>(), b.grad().transpose(1, 2).to_vector<float>());
  }
}

TEST(Softmax, Bf16IsComputedInFloat32) {
  Generator gen(3);
  Tensor x = Tensor::randn({8, 300}, DType::f32, &gen).to(DType::bf16);
  Tensor y = softmax(x, -1);
  EXPECT_EQ(y.dtype(), DType::bf16);
  Tensor ref = softmax(x.to(DType::f32), -1);
  // One rounding of the output: half a bf16 ulp relative.
  EXPECT_CLOSE(y.to(DType::f32), ref, (testing::Tol{0, 1.0 / 256}));
  Tensor ly = log_softmax(x, -1);
  EXPECT_CLOSE(ly.to(DType::f32), log_softmax(x.to(DType::f32), -1), (testing::Tol{0, 1.0 / 256}));
}

TEST(Softmax, ResultsDoNotDependOnTheThreadCount) {
  Generator gen(4);
  Tensor x = Tensor::randn({64, 1000}, DType::f32, &gen);
  Tensor z = Tensor::randn({16, 50, 80}, DType::f32, &gen);
  int saved = num_threads();
  auto run = [&] {
    return std::vector<std::vector<float>>{softmax(x, -1).to_vector<float>(),
                                           log_softmax(z, 1).to_vector<float>()};
  };
  set_num_threads(1);
  auto one = run();
  set_num_threads(std::max(saved, 2));
  auto many = run();
  set_num_threads(saved);
  EXPECT_EQ(one, many);
}

TEST(Softmax, EmptyTensorsGiveEmptyResults) {
  EXPECT_EQ(softmax(Tensor::zeros({0, 4}), 1).shape(), (Shape{0, 4}));
  EXPECT_EQ(log_softmax(Tensor::zeros({3, 0, 2}), 1).shape(), (Shape{3, 0, 2}));
}

}  // namespace
}  // namespace ssm
