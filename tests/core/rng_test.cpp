// The counter-based generator: reproducible, independent of the thread count, and statistically
// sane.
#include <gtest/gtest.h>

#include <cmath>

#include "core/parallel.h"
#include "core/reduce_to.h"
#include "core/rng.h"
#include "core/tensor.h"

namespace ssm {
namespace {

TEST(Rng, SameSeedSameNumbersDifferentSeedDifferentNumbers) {
  Generator a(5), b(5), c(6);
  auto va = Tensor::randn({1000}, DType::f32, &a).to_vector<float>();
  auto vb = Tensor::randn({1000}, DType::f32, &b).to_vector<float>();
  auto vc = Tensor::randn({1000}, DType::f32, &c).to_vector<float>();
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
  // The generator moves on: a second draw differs from the first.
  EXPECT_NE(Tensor::randn({1000}, DType::f32, &a).to_vector<float>(), va);
}

TEST(Rng, StateRestoreReplaysTheSameDraws) {
  Generator g(1);
  Tensor::rand({10}, DType::f32, &g);
  GeneratorState s = g.state();
  auto first = Tensor::rand({37}, DType::f64, &g).to_vector<double>();
  g.set_state(s);
  EXPECT_EQ(Tensor::rand({37}, DType::f64, &g).to_vector<double>(), first);
}

TEST(Rng, ValuesDoNotDependOnTheThreadCount) {
  int saved = num_threads();
  set_num_threads(1);
  Generator g1(42);
  auto one = Tensor::randn({100003}, DType::f32, &g1).to_vector<float>();
  set_num_threads(2);
  Generator g2(42);
  auto two = Tensor::randn({100003}, DType::f32, &g2).to_vector<float>();
  set_num_threads(saved);
  EXPECT_EQ(one, two);
}

TEST(Rng, ElementIDependsOnlyOnItsCounter) {
  // The first 8 draws of a size-8 fill equal the first 8 of a size-1000 fill.
  Generator a(9), b(9);
  auto small = Tensor::rand({8}, DType::f32, &a).to_vector<float>();
  auto large = Tensor::rand({1000}, DType::f32, &b).to_vector<float>();
  EXPECT_EQ(small, std::vector<float>(large.begin(), large.begin() + 8));
}

TEST(Rng, DistributionsHaveTheRightMoments) {
  Generator g(2024);
  const int n = 200000;
  for (DType dt : {DType::f32, DType::f64}) {
    auto v = Tensor::randn({n}, dt, &g).to_vector<double>();
    double mean = 0, sq = 0;
    for (double x : v) mean += x;
    mean /= n;
    for (double x : v) sq += (x - mean) * (x - mean);
    double sd = std::sqrt(sq / n);
    // Standard errors: 1/sqrt(n) = 0.0022 for the mean, 0.0016 for the sd; 5 sigma bounds.
    EXPECT_NEAR(mean, 0.0, 0.011) << dtype_name(dt);
    EXPECT_NEAR(sd, 1.0, 0.008) << dtype_name(dt);
    auto u = Tensor::uniform({n}, -2, 3, dt, &g).to_vector<double>();
    double umin = 1e9, umax = -1e9, umean = 0;
    for (double x : u) {
      umin = std::min(umin, x);
      umax = std::max(umax, x);
      umean += x / n;
    }
    EXPECT_GE(umin, -2.0);
    EXPECT_LT(umax, 3.0);
    EXPECT_NEAR(umean, 0.5, 5 * 5 / std::sqrt(12.0 * n));
  }
  auto r = Tensor::randint({n}, -3, 4, DType::i64, &g).to_vector<int64_t>();
  std::vector<int> counts(7, 0);
  for (int64_t x : r) {
    ASSERT_GE(x, -3);
    ASSERT_LT(x, 4);
    counts[size_t(x + 3)]++;
  }
  for (int c : counts) EXPECT_NEAR(c, n / 7.0, 5 * std::sqrt(n / 7.0));
}

TEST(Rng, SumsDoNotDependOnTheThreadCount) {
  Generator g(3);
  Tensor x = Tensor::randn({3, 300001}, DType::f32, &g);
  int saved = num_threads();
  set_num_threads(1);
  auto one = sum_kernel(x, 0b10, false).to_vector<float>();
  set_num_threads(2);
  auto two = sum_kernel(x, 0b10, false).to_vector<float>();
  set_num_threads(saved);
  EXPECT_EQ(one, two);
}

}  // namespace
}  // namespace ssm
