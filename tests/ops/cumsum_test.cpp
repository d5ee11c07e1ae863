// ops/cumsum beyond the OpInfo table: output dtypes, float64 accumulation for float32 inputs,
// the reverse-cumsum backward, errors, and results that do not depend on the thread count.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/cumsum.h"

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

TEST(Cumsum, ValuesAlongEitherDim) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(cumsum(x, 1).to_vector<double>(), (std::vector<double>{1, 3, 6, 4, 9, 15}));
  EXPECT_EQ(cumsum(x, 0).to_vector<double>(), (std::vector<double>{1, 2, 3, 5, 7, 9}));
  EXPECT_EQ(cumsum(x.t(), -1).to_vector<double>(), (std::vector<double>{1, 5, 2, 7, 3, 9}));
  Tensor s = cumsum(Tensor::scalar(2.5, DType::f64), -1);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<double>(), 2.5);
  EXPECT_EQ(cumsum(Tensor::zeros({0, 3}), 0).shape(), (Shape{0, 3}));
}

TEST(Cumsum, IntegersAndBoolsGiveInt64) {
  Tensor i = Tensor::from_vector(std::vector<int32_t>{1, -2, 3}, {3});
  Tensor yi = cumsum(i, 0);
  EXPECT_EQ(yi.dtype(), DType::i64);
  EXPECT_EQ(yi.to_vector<int64_t>(), (std::vector<int64_t>{1, -1, 2}));
  Tensor b = Tensor::from_vector(std::vector<int64_t>{1, 1, 0, 1}, {4}).to(DType::b8);
  Tensor yb = cumsum(b, 0);
  EXPECT_EQ(yb.dtype(), DType::i64);
  EXPECT_EQ(yb.to_vector<int64_t>(), (std::vector<int64_t>{1, 2, 2, 3}));
}

TEST(Cumsum, Float32IsSummedInFloat64) {
  // A float32 running sum loses the 1 in 1e8 + 1; the float64 sum keeps it, so the last output is
  // exactly 1 (each output is rounded to float32 once).
  Tensor x = Tensor::from_vector(std::vector<float>{1e8f, 1.0f, -1e8f}, {3});
  std::vector<float> y = cumsum(x, 0).to_vector<float>();
  EXPECT_EQ(y[2], 1.0f);
  Tensor h = Tensor::from_vector(std::vector<float>{256, 1, 1, 1, 1}, {5}).to(DType::bf16);
  EXPECT_EQ(cumsum(h, 0).to_vector<float>().back(), 260.0f);
}

TEST(Cumsum, BackwardIsTheReverseCumsum) {
  Tensor x = Tensor::zeros({2, 4}, DType::f64).requires_grad_();
  Tensor y = cumsum(x, 1);
  y.backward(Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 1, 1, 1, 1}, {2, 4}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{10, 9, 7, 4, 4, 3, 2, 1}));
}

TEST(Cumsum, Errors) {
  EXPECT_ERROR(cumsum(Tensor::zeros({2, 3}), 2), "cumsum", "dim 2", "out of range");
  EXPECT_ERROR(cumsum(Tensor::zeros({2}, DType::c64), 0), "cumsum", "complex64");
  EXPECT_ERROR(cumsum(Tensor(), 0), "cumsum", "undefined");
}

TEST(Cumsum, IsTheSameOnAnyThreadCount) {
  Generator g(5);
  Tensor x = Tensor::randn({300, 513}, DType::f32, &g);
  int before = num_threads();
  std::vector<std::vector<float>> runs;
  for (int threads : {1, std::max(before, 2)}) {
    set_num_threads(threads);
    for (int d : {0, 1}) {
      runs.push_back(cumsum(x, d).to_vector<float>());
      runs.push_back(cumsum(x.t(), d).to_vector<float>());
    }
  }
  set_num_threads(before);
  for (size_t k = 0; k < 4; ++k) EXPECT_EQ(runs[k], runs[k + 4]) << "run " << k;
  // And against a float64 serial sum rounded once.
  auto xv = x.to_vector<double>();
  double acc = 0;
  for (int l = 0; l < 513; ++l) acc += xv[size_t(7 * 513 + l)];
  EXPECT_EQ(runs[2][size_t(7 * 513 + 512)], float(acc));
}

TEST(Cumsum, PermutedInputSplitAcrossThreadsMatchesASerialSum) {
  // (60, 40, 30) seen through a permutation: the positions outside the summed dim do not
  // coalesce, and the threads' chunks end in the middle of runs.
  Generator g(9);
  Tensor base = Tensor::randn({40, 30, 60}, DType::f64, &g);
  Tensor x = base.permute({2, 0, 1});  // (60, 40, 30)
  int before = num_threads();
  set_num_threads(std::max(before, 2));
  std::vector<double> y = cumsum(x, 1).to_vector<double>();
  set_num_threads(before);
  std::vector<double> xv = x.to_vector<double>();
  for (int64_t a = 0; a < 60; ++a)
    for (int64_t c = 0; c < 30; ++c) {
      double acc = 0;
      for (int64_t l = 0; l < 40; ++l) {
        size_t i = size_t((a * 40 + l) * 30 + c);
        acc += xv[i];
        ASSERT_EQ(y[i], acc) << "at (" << a << ", " << l << ", " << c << ")";
      }
    }
}

}  // namespace
}  // namespace ssm
