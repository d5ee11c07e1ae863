// ops/matmul beyond the OpInfo table: errors, larger shapes against a naive double reference
// (every layout path: in place, CblasTrans, copied, folded batches, per-batch loop, summed
// broadcast gradients), empty dims, bf16, thread-count independence of the batch loop.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/matmul.h"
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

// Naive batched product in double: a (Ba, M, K) @ b (Bb, K, N) with Ba, Bb in {1, B}.
Tensor naive_bmm(const Tensor& a, const Tensor& b) {
  int64_t Ba = a.size(0), Bb = b.size(0), B = std::max(Ba, Bb);
  int64_t M = a.size(1), K = a.size(2), N = b.size(2);
  auto av = a.to_vector<double>(), bv = b.to_vector<double>();
  std::vector<double> c(size_t(B * M * N), 0.0);
  for (int64_t i = 0; i < B; ++i)
    for (int64_t m = 0; m < M; ++m)
      for (int64_t n = 0; n < N; ++n) {
        double s = 0;
        for (int64_t k = 0; k < K; ++k)
          s += av[size_t(((Ba == 1 ? 0 : i) * M + m) * K + k)] *
               bv[size_t(((Bb == 1 ? 0 : i) * K + k) * N + n)];
        c[size_t((i * M + m) * N + n)] = s;
      }
  return Tensor::from_vector(c, {B, M, N});
}

const testing::Tol kF32{1e-4, 1e-4};

TEST(Matmul, Errors) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({4, 5});
  EXPECT_ERROR(matmul(a, b), "matmul", "(2, 3)", "(4, 5)", "3 vs 4");
  EXPECT_ERROR(matmul(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 4})), "matmul", "(2, 2, 3)",
               "(3, 3, 4)", "broadcast");
  EXPECT_ERROR(matmul(Tensor::zeros({}), Tensor::zeros({3})), "matmul", "at least 1 dim");
  EXPECT_ERROR(matmul(Tensor::zeros({2, 3}), Tensor::zeros({3, 2}, DType::f64)), "matmul",
               "same dtype", "float32", "float64");
  EXPECT_ERROR(matmul(Tensor::zeros({2, 3}, DType::i64), Tensor::zeros({3, 2}, DType::i64)),
               "matmul", "floating", "int64");
  EXPECT_ERROR(matmul(Tensor(), b), "matmul");
  EXPECT_ERROR(bmm(Tensor::zeros({2, 3}), Tensor::zeros({3, 2})), "bmm", "3-D");
  EXPECT_ERROR(bmm(Tensor::zeros({2, 2, 3}), Tensor::zeros({3, 3, 2})), "bmm", "batch sizes",
               "(2, 2, 3)", "(3, 3, 2)");
  EXPECT_ERROR(bmm(Tensor::zeros({2, 2, 3}), Tensor::zeros({2, 4, 2})), "(2, 2, 3)", "(2, 4, 2)");
}

TEST(Linear, Errors) {
  Tensor x = Tensor::zeros({2, 3, 4}), w = Tensor::zeros({5, 4});
  EXPECT_ERROR(linear(x, Tensor::zeros({5, 3})), "linear", "(2, 3, 4)", "(5, 3)", "features");
  EXPECT_ERROR(linear(x, Tensor::zeros({4})), "linear", "weight must be 2-D");
  EXPECT_ERROR(linear(x, w, Tensor::zeros({4})), "linear", "bias", "(5,)");
  EXPECT_ERROR(linear(x, w, Tensor::zeros({5}, DType::f64)), "linear", "bias", "float64");
  EXPECT_ERROR(linear(Tensor::zeros({}), w), "linear", "at least 1 dim");
  EXPECT_ERROR(linear(x, Tensor::zeros({5, 4}, DType::bf16)), "linear", "same dtype");
}

// One shape per path through the GEMM layer, float32 against double.
TEST(Matmul, LayoutsAgainstNaive) {
  Generator gen(3);
  auto rn = [&](const Shape& s) { return Tensor::randn(s, DType::f32, &gen); };
  // plain 2-D, odd sizes
  Tensor a = rn({37, 65}), b = rn({65, 29});
  EXPECT_CLOSE(matmul(a, b), naive_bmm(a.unsqueeze(0), b.unsqueeze(0)).squeeze(0), kF32);
  // transposed views on both sides (CblasTrans, no copy)
  Tensor at = rn({65, 37}).t(), bt = rn({29, 65}).t();
  EXPECT_CLOSE(matmul(at, bt),
               naive_bmm(at.contiguous().unsqueeze(0), bt.contiguous().unsqueeze(0)).squeeze(0),
               kF32);
  // a view with strides (2 * cols, 2): copied
  Tensor as = rn({37, 130}).slice(1, 0, 130, 2);
  EXPECT_CLOSE(matmul(as, b), naive_bmm(as.contiguous().unsqueeze(0), b.unsqueeze(0)).squeeze(0),
               kF32);
  // batched @ 2-d: one GEMM with the batch folded into the rows
  Tensor x = rn({3, 17, 65});
  EXPECT_CLOSE(matmul(x, b), naive_bmm(x, b.unsqueeze(0)), kF32);
  // 2-d @ batched: one GEMM per batch
  Tensor y = rn({4, 65, 29});
  EXPECT_CLOSE(matmul(a, y), naive_bmm(a.unsqueeze(0), y), kF32);
  // many small products: one GEMM each
  Tensor s1 = rn({300, 5, 7}), s2 = rn({300, 7, 3});
  EXPECT_CLOSE(matmul(s1, s2), naive_bmm(s1, s2), kF32);
}

TEST(Matmul, BroadcastGradientsAreSummed) {
  Generator gen(4);
  Tensor a = Tensor::randn({1, 6, 9}, DType::f64, &gen).requires_grad_();
  Tensor b = Tensor::randn({5, 9, 4}, DType::f64, &gen).requires_grad_();
  Tensor g = Tensor::randn({5, 6, 4}, DType::f64, &gen);
  matmul(a, b).backward(g);
  // dA = sum_i g_i b_i^T, dB_i = a^T g_i
  Tensor bt = b.detach().transpose(1, 2).contiguous();
  Tensor da = naive_bmm(g, bt);  // (5, 6, 9)
  std::vector<double> want(54, 0.0);
  auto dv = da.to_vector<double>();
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 54; ++j) want[size_t(j)] += dv[size_t(i * 54 + j)];
  EXPECT_CLOSE(a.grad(), Tensor::from_vector(want, {1, 6, 9}), (testing::Tol{1e-12, 1e-12}));
  Tensor at = a.detach().transpose(1, 2).contiguous();
  EXPECT_CLOSE(b.grad(), naive_bmm(at, g), (testing::Tol{1e-12, 1e-12}));
}

// A linear whose weight is a bfloat16 cast of a float32 leaf (autocast's master weights) hands
// the leaf dW as the float32 sums of the 16-bit products: in float32, and not rounded to bfloat16
// on the way (which would put it ~1e-2 off at these sums of 21 products). A bfloat16 leaf keeps a
// bfloat16 gradient.
TEST(Linear, WeightGradOfA16BitCastOfFloat32LeafStaysFloat32) {
  Generator gen(11);
  Tensor w = Tensor::randn({6, 40}, DType::f32, &gen).requires_grad_();
  Tensor x = Tensor::randn({3, 7, 40}, DType::f32, &gen).to(DType::bf16);
  Tensor g = Tensor::randn({3, 7, 6}, DType::f32, &gen).to(DType::bf16);
  Tensor wc = w.to(DType::bf16);
  EXPECT_TRUE(is_16bit_cast_of_f32_leaf(wc));
  EXPECT_FALSE(is_16bit_cast_of_f32_leaf(x));
  linear(x, wc).backward(g);
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), DType::f32);
  Tensor ref = matmul(g.to(DType::f64).reshape({21, 6}).t(), x.to(DType::f64).reshape({21, 40}));
  EXPECT_CLOSE(w.grad().to(DType::f64), ref, (testing::Tol{1e-5, 1e-5}));
  Tensor wb = w.detach().to(DType::bf16).requires_grad_();
  linear(x, wb).backward(g);
  EXPECT_EQ(wb.grad().dtype(), DType::bf16);
}

TEST(Linear, MatchesMatmulForwardAndBackward) {
  Generator gen(5);
  Tensor x = Tensor::randn({2, 13, 24}, DType::f64, &gen).requires_grad_();
  Tensor w = Tensor::randn({10, 24}, DType::f64, &gen).requires_grad_();
  Tensor b = Tensor::randn({10}, DType::f64, &gen).requires_grad_();
  Tensor g = Tensor::randn({2, 13, 10}, DType::f64, &gen);
  Tensor y = linear(x, w, b);
  y.backward(g);
  Tensor x2 = x.detach().clone().requires_grad_(), w2 = w.detach().clone().requires_grad_();
  Tensor ref = matmul(x2, w2.t());
  ref.backward(g);
  auto yv = y.to_vector<double>(), rv = ref.to_vector<double>(), bv = b.to_vector<double>();
  for (size_t i = 0; i < yv.size(); ++i) EXPECT_NEAR(yv[i], rv[i] + bv[i % 10], 1e-12);
  EXPECT_CLOSE(x.grad(), x2.grad(), (testing::Tol{1e-12, 1e-12}));
  EXPECT_CLOSE(w.grad(), w2.grad(), (testing::Tol{1e-12, 1e-12}));
  // db = sum over all 26 rows of g
  std::vector<double> db(10, 0.0);
  auto gv = g.to_vector<double>();
  for (size_t i = 0; i < gv.size(); ++i) db[i % 10] += gv[i];
  EXPECT_CLOSE(b.grad(), Tensor::from_vector(db, {10}), (testing::Tol{1e-12, 1e-12}));
}

TEST(Matmul, EmptyDims) {
  // K = 0: a sum of nothing is 0
  Tensor z = matmul(Tensor::zeros({3, 0}), Tensor::zeros({0, 4}));
  EXPECT_EQ(z.shape(), (Shape{3, 4}));
  for (double v : z.to_vector<double>()) EXPECT_EQ(v, 0.0);
  EXPECT_EQ(matmul(Tensor::zeros({0, 3}), Tensor::zeros({3, 4})).shape(), (Shape{0, 4}));
  EXPECT_EQ(matmul(Tensor::zeros({2, 0, 3}), Tensor::zeros({3, 4})).shape(), (Shape{2, 0, 4}));
  // a zero-size batch: gradients of the broadcast operand are zeros, not garbage
  Tensor a = Tensor::ones({0, 2, 3}).requires_grad_(), b = Tensor::ones({3, 4}).requires_grad_();
  matmul(a, b).backward(Tensor::zeros({0, 2, 4}));
  ASSERT_TRUE(b.grad().defined());
  EXPECT_EQ(b.grad().shape(), (Shape{3, 4}));
  for (double v : b.grad().to_vector<double>()) EXPECT_EQ(v, 0.0);
  // linear with no input features: the bias alone
  Tensor y = linear(Tensor::zeros({2, 0}), Tensor::zeros({3, 0}), Tensor::full({3}, 1.5));
  for (double v : y.to_vector<double>()) EXPECT_EQ(v, 1.5);
}

TEST(Matmul, BFloat16RoundsOnceFromFloat32) {
  Generator gen(6);
  Tensor a = Tensor::randn({9, 64}, DType::f32, &gen).to(DType::bf16);
  Tensor b = Tensor::randn({64, 11}, DType::f32, &gen).to(DType::bf16);
  Tensor c = matmul(a, b);
  EXPECT_EQ(c.dtype(), DType::bf16);
  // float32 product of the same (bf16-exact) values, rounded to bf16: identical bits
  Tensor ref = matmul(a.to(DType::f32), b.to(DType::f32)).to(DType::bf16);
  EXPECT_CLOSE(c, ref, (testing::Tol{0, 0}));
  Tensor x = Tensor::randn({4, 3, 64}, DType::f32, &gen).to(DType::f16);
  Tensor w = Tensor::randn({7, 64}, DType::f32, &gen).to(DType::f16);
  Tensor bias = Tensor::randn({7}, DType::f32, &gen).to(DType::f16);
  Tensor y = linear(x, w, bias);
  EXPECT_EQ(y.dtype(), DType::f16);
  Tensor yref = linear(x.to(DType::f32), w.to(DType::f32), bias.to(DType::f32)).to(DType::f16);
  EXPECT_CLOSE(y, yref, (testing::Tol{0, 0}));
}

TEST(Matmul, ResultsDoNotDependOnThreadCount) {
  Generator gen(7);
  Tensor a = Tensor::randn({500, 6, 5}, DType::f32, &gen);
  Tensor b = Tensor::randn({500, 5, 4}, DType::f32, &gen);
  Tensor w = Tensor::randn({1, 5, 4}, DType::f32, &gen).requires_grad_();
  int before = num_threads();
  auto run = [&](int threads) {
    set_num_threads(threads);
    w.zero_grad();
    Tensor c = matmul(a, b);
    matmul(a, w).backward(Tensor::ones({500, 6, 4}));  // dW summed over 500 batches
    return std::make_pair(c, w.grad().clone());
  };
  auto [c1, g1] = run(1);
  auto [c2, g2] = run(2);
  set_num_threads(before);
  EXPECT_CLOSE(c1, c2, (testing::Tol{0, 0}));
  EXPECT_CLOSE(g1, g2, (testing::Tol{0, 0}));
}

}  // namespace
}  // namespace ssm
