// Selective scan behaviour beyond the OpInfo table: the three algorithms agree, stepping equals
// the whole-sequence scan, chunked recomputation does not change gradients, errors are clear.
#include <gtest/gtest.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/selective_scan.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

struct Problem {
  Tensor u, delta, A, B, C, D, z, bias;
};

Problem make(int64_t b, int64_t l, int64_t d, int64_t n, DType dt, uint64_t seed) {
  Generator g(seed);
  Problem p;
  p.u = Tensor::randn({b, l, d}, dt, &g);
  p.delta = mul(Tensor::randn({b, l, d}, dt, &g), 0.5);
  p.A = neg(exp(mul(Tensor::randn({d, n}, dt, &g), 0.5)));
  p.B = Tensor::randn({b, l, n}, dt, &g);
  p.C = Tensor::randn({b, l, n}, dt, &g);
  p.D = Tensor::randn({d}, dt, &g);
  p.z = Tensor::randn({b, l, d}, dt, &g);
  p.bias = mul(Tensor::randn({d}, dt, &g), 0.3);
  return p;
}

Tensor run(const Problem& p, SelectiveScanOptions o, Tensor* fin = nullptr) {
  return selective_scan(p.u, p.delta, p.A, p.B, p.C, p.D, p.z, p.bias, o, fin);
}

TEST(SelectiveScan, AlgorithmsAgreeToRounding) {
  // Long enough for many chunks (chunk 16 over 200 steps), two channel blocks.
  Problem p = make(2, 200, 40, 8, DType::f32, 1);
  for (auto disc : {Discretization::zoh, Discretization::zoh_exact, Discretization::bilinear}) {
    SCOPED_TRACE(discretization_name(disc));
    SelectiveScanOptions o{.discretization = disc, .chunk = 16};
    Tensor seq = run(p, o);
    o.algorithm = ScanAlgorithm::parallel;
    EXPECT_CLOSE(run(p, o), seq, (Tol{1e-4, 1e-4}));
    if (disc != Discretization::bilinear) {  // bilinear Ā can be <= 0 for large dt
      o.algorithm = ScanAlgorithm::log_space;
      EXPECT_CLOSE(run(p, o), seq, (Tol{2e-3, 2e-3}));  // log-space rounding grows with |log Ā*|
    }
  }
}

TEST(SelectiveScan, Float32MatchesFloat64) {
  Problem p64 = make(2, 300, 33, 16, DType::f64, 2);
  Problem p32{p64.u.to(DType::f32),     p64.delta.to(DType::f32), p64.A.to(DType::f32),
              p64.B.to(DType::f32),     p64.C.to(DType::f32),     p64.D.to(DType::f32),
              p64.z.to(DType::f32),     p64.bias.to(DType::f32)};
  EXPECT_CLOSE(run(p32, {}).to(DType::f64), run(p64, {}), (Tol{1e-4, 1e-4}));
}

TEST(SelectiveScan, SteppingEqualsTheWholeSequence) {
  for (auto disc : {Discretization::zoh, Discretization::zoh_exact, Discretization::generalized_bilinear}) {
    SCOPED_TRACE(discretization_name(disc));
    Problem p = make(3, 9, 37, 4, DType::f64, 3);
    SelectiveScanOptions o{.discretization = disc, .alpha = 0.7, .chunk = 4};
    Tensor fin;
    Tensor whole = run(p, o, &fin);
    Tensor state = Tensor::zeros({3, 37, 4}, DType::f64);
    for (int64_t t = 0; t < 9; ++t) {
      auto at = [t](const Tensor& x) { return x.select(1, t); };
      Tensor y = selective_scan_step(state, at(p.u), at(p.delta), p.A, at(p.B), at(p.C), p.D,
                                     at(p.z), p.bias, o);
      EXPECT_CLOSE(y, at(whole), testing::default_tol(DType::f64));
    }
    EXPECT_CLOSE(state, fin, testing::default_tol(DType::f64));
  }
}

TEST(SelectiveScan, ParallelFinalStateMatchesSequential) {
  Problem p = make(2, 50, 5, 3, DType::f64, 4);
  Tensor f1, f2;
  run(p, {.chunk = 7}, &f1);
  run(p, {.algorithm = ScanAlgorithm::parallel, .chunk = 7}, &f2);
  EXPECT_CLOSE(f2, f1, testing::default_tol(DType::f64));
}

TEST(SelectiveScan, GradientsDoNotDependOnTheChunkLength) {
  Problem base = make(2, 23, 6, 3, DType::f64, 5);
  auto grads = [&](int64_t chunk) {
    std::vector<Tensor> leaves = {base.u.clone(), base.delta.clone(), base.A.clone(), base.B.clone(),
                                  base.C.clone(), base.D.clone(),     base.z.clone(), base.bias.clone()};
    for (Tensor& t : leaves) t = t.detach().requires_grad_();
    Problem p{leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5], leaves[6], leaves[7]};
    sum(mul(run(p, {.chunk = chunk}), run(p, {.chunk = chunk}))).backward();
    std::vector<Tensor> g;
    for (Tensor& t : leaves) g.push_back(t.grad());
    return g;
  };
  auto a = grads(1), b = grads(5), c = grads(100);
  for (size_t i = 0; i < a.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_CLOSE(b[i], a[i], testing::default_tol(DType::f64));
    EXPECT_CLOSE(c[i], a[i], testing::default_tol(DType::f64));
  }
}

TEST(SelectiveScan, ZohExactTendsToZohForSmallSteps) {
  // B̄ = (e^{dt A} - 1) / A -> dt as dt A -> 0, including A = 0 exactly.
  Problem p = make(1, 6, 4, 2, DType::f64, 6);
  p.A = Tensor::zeros({4, 2}, DType::f64);
  EXPECT_CLOSE(run(p, {.discretization = Discretization::zoh_exact}),
               run(p, {.discretization = Discretization::zoh}), testing::default_tol(DType::f64));
}

TEST(SelectiveScan, LogSpaceRefusesNonPositiveTransitions) {
  Problem p = make(1, 4, 2, 2, DType::f32, 7);
  p.A = Tensor::full({2, 2}, -100.0);  // bilinear Ā = (1 - 50 dt)/(1 + 50 dt) < 0
  try {
    run(p, {.discretization = Discretization::bilinear, .algorithm = ScanAlgorithm::log_space});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs Ā > 0"), std::string::npos) << e.what();
  }
}

TEST(SelectiveScan, ShapeErrorsNameTheArgument) {
  Problem p = make(2, 4, 3, 2, DType::f32, 8);
  auto expect_error = [&](Problem q, const char* needle) {
    try {
      run(q, {});
      ADD_FAILURE() << "expected an error containing " << needle;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  Problem q = p;
  q.A = Tensor::zeros({4, 2});
  expect_error(q, "A must be (D, N)");
  q = p;
  q.B = Tensor::zeros({2, 4, 3});
  expect_error(q, "B must be (B, L, N)");
  q = p;
  q.delta = Tensor::zeros({2, 5, 3});
  expect_error(q, "delta must have u's shape");
  q = p;
  q.u = Tensor::zeros({2, 4, 3}, DType::i32);
  q.delta = q.u;
  expect_error(q, "inputs must be floating");
  EXPECT_THROW(parse_discretization("zoh2"), Error);
  EXPECT_THROW(parse_scan_algorithm("fast"), Error);
  EXPECT_THROW(run(p, {.alpha = 1.5}), Error);
  EXPECT_THROW(run(p, {.chunk = 0}), Error);
}

}  // namespace
}  // namespace ssm
