// ops/dropout and the Philox generator under it: Random123's known answer, the documented mask
// rule element by element, thread-count independence, the keep rate, the no-op cases, errors,
// the generator's bookkeeping, and masks regenerated in backward (also under checkpoint()).
#include <gtest/gtest.h>

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
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

// Random123's known-answer vector for philox4x32 with 10 rounds, counter 0 and key 0, from the
// kat_vectors file of the Random123 distribution (D. E. Shaw Research; quoted in
// DEShawResearch/fs123, core123/ut/ut_philox.cpp):
//   philox4x32 10  00000000 00000000 00000000 00000000  00000000 00000000
//                  -> 6627e8d5 e169c58d bc57ac4c 9b00dbd8
// The other two philox4x32-10 vectors set counter words 2 and 3, which core/rng.h's 64-bit
// counter keeps at 0; tools/fixtures/dropout.py checks all three against its own Python Philox,
// and the dropout fixture ties that Python Philox to this one.
TEST(Philox, Random123KnownAnswer) {
  Philox r = philox4x32_10(0, 0);
  EXPECT_EQ(r.w[0], 0x6627e8d5u);
  EXPECT_EQ(r.w[1], 0xe169c58du);
  EXPECT_EQ(r.w[2], 0xbc57ac4cu);
  EXPECT_EQ(r.w[3], 0x9b00dbd8u);
}

TEST(Dropout, FollowsTheDocumentedMaskRule) {
  const uint64_t seed = 77;
  const double p = 0.4;
  Generator gen(seed);
  gen.reserve(5);  // start at a non-zero base counter
  Tensor y = dropout(Tensor::ones({3, 11}, DType::f64), p, true, &gen);
  auto v = y.to_vector<double>();
  for (int64_t i = 0; i < 33; ++i) {
    Philox r = philox4x32_10(seed, 5 + uint64_t(i / 4));
    bool keep = double(uniform_f32(r.w[i % 4])) >= p;
    EXPECT_EQ(v[size_t(i)], keep ? 1.0 / (1.0 - p) : 0.0) << "element " << i;
  }
  EXPECT_EQ(gen.state().offset, 5u + 9u);  // ceil(33 / 4) counters reserved
}

TEST(Dropout, DoesNotDependOnThreadCountOrLayout) {
  Generator data(1);
  Tensor x = Tensor::randn({300, 701}, DType::f32, &data);
  auto run = [&](int threads, const Tensor& in) {
    set_num_threads(threads);
    Generator gen(9);
    return dropout(in, 0.25, true, &gen);
  };
  int before = num_threads();
  Tensor y1 = run(1, x), y2 = run(2, x);
  // the same values laid out transposed: the mask follows the logical index
  Tensor xt = x.t().contiguous().t();
  Tensor y3 = run(2, xt);
  set_num_threads(before);
  EXPECT_CLOSE(y1, y2, (testing::Tol{0, 0}));
  EXPECT_CLOSE(y1, y3, (testing::Tol{0, 0}));
}

TEST(Dropout, KeepsAboutOneMinusP) {
  Generator gen(3);
  Tensor y = dropout(Tensor::ones({1000000}), 0.3, true, &gen);
  double kept = 0;
  for (double v : y.to_vector<double>()) kept += v != 0.0;
  // binomial: sd = sqrt(n p (1 - p)) / n ~ 4.6e-4
  EXPECT_NEAR(kept / 1e6, 0.7, 0.003);
}

TEST(Dropout, NoOpCasesReturnTheInput) {
  Tensor x = Tensor::ones({4}).requires_grad_();
  Generator gen(1);
  Tensor a = dropout(x, 0.5, false, &gen);
  Tensor b = dropout(x, 0.0, true, &gen);
  EXPECT_TRUE(a.is_same(x));
  EXPECT_TRUE(b.is_same(x));
  EXPECT_EQ(gen.state().offset, 0u);  // no numbers drawn
}

TEST(Dropout, Errors) {
  Tensor x = Tensor::ones({4});
  EXPECT_ERROR(dropout(x, -0.1), "dropout", "p", "-0.1", "[0, 1]");
  EXPECT_ERROR(dropout(x, 1.5), "dropout", "1.5");
  EXPECT_ERROR(dropout(x, std::nan("")), "dropout", "nan");
  EXPECT_ERROR(dropout(Tensor::ones({4}, DType::i64), 0.5), "dropout", "floating", "int64");
  EXPECT_ERROR(dropout(Tensor(), 0.5), "dropout", "input");
}

TEST(Dropout, ProbabilityOneGivesZerosAndZeroGradient) {
  Tensor x = Tensor::full({5}, 2.0).requires_grad_();
  Tensor y = dropout(x, 1.0);
  for (double v : y.to_vector<double>()) EXPECT_EQ(v, 0.0);
  y.backward(Tensor::ones({5}));
  for (double v : x.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
}

TEST(Dropout, SuccessiveCallsDrawNewMasks) {
  Generator gen(5);
  Tensor x = Tensor::ones({64});
  Tensor a = dropout(x, 0.5, true, &gen), b = dropout(x, 0.5, true, &gen);
  EXPECT_NE(a.to_vector<double>(), b.to_vector<double>());
  EXPECT_EQ(gen.state().offset, 32u);
}

// The mask is regenerated in backward from (seed, base), not from the generator's state then.
TEST(Dropout, BackwardRegeneratesTheForwardMask) {
  Generator gen(6);
  Tensor x = Tensor::full({10, 10}, 1.0).requires_grad_();
  Tensor y = dropout(x, 0.5, true, &gen);
  dropout(Tensor::ones({100}), 0.5, true, &gen);  // move the generator on
  y.backward(Tensor::ones({10, 10}));
  EXPECT_CLOSE(x.grad(), y.detach(), (testing::Tol{0, 0}));  // dy/dx = keep / (1 - p) = y
}

// checkpoint() rewinds the default generator when it recomputes: the same mask both times.
TEST(Dropout, RepeatsUnderCheckpoint) {
  Generator data(7);
  Tensor x0 = Tensor::randn({8, 16}, DType::f64, &data);
  Tensor g = Tensor::randn({8, 16}, DType::f64, &data);
  manual_seed(123);
  Tensor x1 = x0.detach().requires_grad_();
  Tensor y1 = mul(dropout(x1, 0.5), x1);
  y1.backward(g);
  manual_seed(123);
  Tensor x2 = x0.detach().requires_grad_();
  Tensor y2 = checkpoint([](const std::vector<Tensor>& in) {
                           return std::vector<Tensor>{mul(dropout(in[0], 0.5), in[0])};
                         },
                         {x2})[0];
  y2.backward(g);
  EXPECT_CLOSE(y2, y1, (testing::Tol{0, 0}));
  EXPECT_CLOSE(x2.grad(), x1.grad(), (testing::Tol{0, 0}));
}

}  // namespace
}  // namespace ssm
