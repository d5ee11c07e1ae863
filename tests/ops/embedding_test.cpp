// ops/embedding beyond the OpInfo table: errors (out-of-range ids with their position), the
// padding row, a large deterministic backward against a serial reference, bf16.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/embedding.h"
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

Tensor ids(std::vector<int64_t> v, const Shape& s) { return Tensor::from_vector(v, s); }

TEST(Embedding, Errors) {
  Tensor w = Tensor::zeros({7, 3});
  EXPECT_ERROR(embedding(w, ids({0, 1, 2, 3, 4, 9}, {2, 3})), "embedding", "id 9",
               "position (1, 2)", "7 rows");
  EXPECT_ERROR(embedding(w, ids({-1}, {1})), "embedding", "id -1", "position (0)");
  EXPECT_ERROR(embedding(w, ids({7}, {}).to(DType::i32)), "id 7", "position ()", "7 rows");
  EXPECT_ERROR(embedding(w, Tensor::zeros({2})), "embedding", "ids", "int32 or int64", "float32");
  EXPECT_ERROR(embedding(Tensor::zeros({7}), ids({0}, {1})), "embedding", "weight", "2-D");
  EXPECT_ERROR(embedding(Tensor::zeros({7, 3}, DType::i64), ids({0}, {1})), "embedding",
               "floating");
  EXPECT_ERROR(embedding(w, ids({0}, {1}), 7), "embedding", "padding_idx 7", "7 rows");
  EXPECT_ERROR(embedding(w, ids({0}, {1}), -8), "padding_idx -8");
  EXPECT_ERROR(embedding(w, Tensor()), "embedding", "ids");
}

TEST(Embedding, PaddingRowIsLookedUpButGetsNoGradient) {
  Generator gen(1);
  Tensor w = Tensor::randn({4, 3}, DType::f64, &gen).requires_grad_();
  Tensor y = embedding(w, ids({1, 3, 1, 0}, {4}), 1);
  EXPECT_EQ(y.at({0, 2}), w.at({1, 2}));
  y.backward(Tensor::ones({4, 3}, DType::f64));
  auto g = w.grad().to_vector<double>();
  std::vector<double> want = {1, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1};
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(g[i], want[i]) << i;
}

// A vocabulary-sized backward: many repeats per id, against a serial sum in position order, and
// bitwise the same on 1 and 2 threads.
TEST(Embedding, BackwardIsDeterministicAndMatchesSerialSum) {
  const int64_t V = 50, D = 33, N = 20000;
  Generator gen(2);
  Tensor id = Tensor::randint({N}, 0, V, DType::i64, &gen);
  Tensor g = Tensor::randn({N, D}, DType::f32, &gen);
  auto grad_on = [&](int threads) {
    set_num_threads(threads);
    Tensor w = Tensor::zeros({V, D}).requires_grad_();
    embedding(w, id).backward(g);
    return w.grad();
  };
  int before = num_threads();
  Tensor g1 = grad_on(1), g2 = grad_on(2);
  set_num_threads(before);
  EXPECT_CLOSE(g1, g2, (testing::Tol{0, 0}));
  std::vector<double> want(size_t(V * D), 0.0);
  auto iv = id.to_vector<int64_t>();
  auto gv = g.to_vector<double>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t d = 0; d < D; ++d) want[size_t(iv[size_t(n)] * D + d)] += gv[size_t(n * D + d)];
  EXPECT_CLOSE(g1, Tensor::from_vector(want, {V, D}), (testing::Tol{1e-5, 1e-6}));
}

TEST(Embedding, BFloat16) {
  Generator gen(3);
  Tensor w = Tensor::randn({5, 4}, DType::f32, &gen).to(DType::bf16).detach().requires_grad_();
  Tensor y = embedding(w, ids({4, 4, 0}, {3}));
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(y.at({1, 3}), w.at({4, 3}));
  y.backward(Tensor::ones({3, 4}, DType::bf16));
  EXPECT_EQ(w.grad().dtype(), DType::bf16);
  EXPECT_EQ(w.grad().at({4, 0}), 2.0);
  EXPECT_EQ(w.grad().at({2, 0}), 0.0);
}

}  // namespace
}  // namespace ssm
