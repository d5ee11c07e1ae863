// ops/join beyond the OpInfo table: error messages, views and the single split Node, any dtype
// (bits are moved), empty pieces, chunk's piece counts.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/join.h"

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

std::vector<int64_t> sizes_along(const std::vector<Tensor>& ts, int d) {
  std::vector<int64_t> s;
  for (const Tensor& t : ts) s.push_back(t.shape()[d]);
  return s;
}

TEST(Join, CatErrors) {
  Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({2, 4});
  EXPECT_ERROR(cat({}, 0), "cat", "non-empty");
  EXPECT_ERROR(cat({a, Tensor()}, 0), "cat", "tensor 1", "undefined");
  EXPECT_ERROR(cat({a, b}, 0), "cat", "tensor 1", "size 4 in dim 1", "tensor 0 has 3");
  EXPECT_ERROR(cat({a, a, Tensor::zeros({2, 3, 1})}, 1), "cat", "tensor 2", "3 dims", "tensor 0 has 2");
  EXPECT_ERROR(cat({a, a.to(DType::f64)}, 0), "cat", "tensor 1", "float64", "float32", ".to()");
  EXPECT_ERROR(cat({a, b}, 2), "cat", "dim 2", "out of range");
  EXPECT_ERROR(cat({Tensor::scalar(1.0)}, 0), "cat", "tensor 0", "0-dim", "stack()");
  EXPECT_NO_THROW(cat({a, b}, -1));
}

TEST(Join, CatMovesBitsOfAnyDtypeAndLayout) {
  Tensor a = Tensor::arange(6).reshape({2, 3});                          // int64
  Tensor b = Tensor::arange(4).reshape({2, 2}).t().contiguous().t();   // non-contiguous
  Tensor c = cat({a, b}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 5}));
  EXPECT_EQ(c.to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 0, 1, 3, 4, 5, 2, 3}));

  // bf16 values that float32 would round differently come back bit for bit.
  Tensor h = Tensor::from_vector(std::vector<float>{1.0078125f, -3.5f, 65280.0f}, {3}).to(DType::bf16);
  Tensor hh = cat({h, h.slice(0, 0, 3, 2)}, 0);
  EXPECT_EQ(hh.dtype(), DType::bf16);
  EXPECT_EQ(hh.to_vector<float>(), (std::vector<float>{1.0078125f, -3.5f, 65280.0f, 1.0078125f, 65280.0f}));
}

TEST(Join, CatGradientsAreWindowsOfTheOutputGradient) {
  Tensor a = Tensor::zeros({2}, DType::f64).requires_grad_(), b = Tensor::zeros({3}, DType::f64).requires_grad_();
  Tensor y = cat({a, b}, 0);
  y.backward(Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {5}));
  EXPECT_EQ(a.grad().to_vector<double>(), (std::vector<double>{1, 2}));
  EXPECT_EQ(b.grad().to_vector<double>(), (std::vector<double>{3, 4, 5}));
}

TEST(Join, StackErrorsAndShapes) {
  Tensor a = Tensor::zeros({3, 4});
  EXPECT_ERROR(stack({a, Tensor::zeros({1, 5})}, 0), "stack", "(3, 4) on cpu at entry 0",
               "(1, 5) on cpu at entry 1");
  EXPECT_ERROR(stack({}, 0), "stack", "non-empty");
  EXPECT_ERROR(stack({a, a}, 3), "stack", "dim 3", "out of range");
  EXPECT_EQ(stack({a, a}, 2).shape(), (Shape{3, 4, 2}));
  EXPECT_EQ(stack({a, a, a}, -2).shape(), (Shape{3, 3, 4}));
}

TEST(Join, SplitReturnsViewsRecordedByOneNode) {
  Tensor x = Tensor::arange(12, DType::f64).reshape({4, 3}).detach().requires_grad_();
  std::vector<Tensor> parts = split(x, std::vector<int64_t>{1, 3}, 0);
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[1].storage(), x.storage());
  EXPECT_EQ(parts[1].offset(), 3);
  EXPECT_EQ(parts[1].at({0, 0}), 3.0);
  ASSERT_TRUE(parts[0].grad_fn());
  EXPECT_EQ(parts[0].grad_fn(), parts[1].grad_fn());
  EXPECT_EQ(parts[0].grad_fn()->op, OpId::split);
  EXPECT_EQ(parts[1].output_nr(), 1u);
  // Only the second piece is used: the first piece's rows get zeros.
  parts[1].backward(Tensor::ones({3, 3}, DType::f64));
  EXPECT_EQ(x.grad().to_vector<double>(),
            (std::vector<double>{0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
}

TEST(Join, SplitSizes) {
  Tensor x = Tensor::zeros({7, 2});
  EXPECT_EQ(sizes_along(split(x, 3, 0), 0), (std::vector<int64_t>{3, 3, 1}));
  EXPECT_EQ(sizes_along(split(x, 7, 0), 0), (std::vector<int64_t>{7}));
  EXPECT_EQ(sizes_along(split(x, 9, 0), 0), (std::vector<int64_t>{7}));
  EXPECT_EQ(sizes_along(split(x, 1, -1), 1), (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(sizes_along(split(Tensor::zeros({0, 2}), 0, 0), 0), (std::vector<int64_t>{0}));
  EXPECT_EQ(sizes_along(split(x, std::vector<int64_t>{0, 7, 0}, 0), 0), (std::vector<int64_t>{0, 7, 0}));
}

TEST(Join, SplitErrors) {
  Tensor x = Tensor::zeros({5, 2});
  EXPECT_ERROR(split(x, -1, 0), "split", "split_size", "-1");
  EXPECT_ERROR(split(x, 0, 0), "split", "split_size 0", "size 5");
  EXPECT_ERROR(split(x, std::vector<int64_t>{2, 2}, 0), "split", "sum to 4", "size 5");
  EXPECT_ERROR(split(x, std::vector<int64_t>{6, -1}, 0), "split", "split_sizes[1]", "-1");
  EXPECT_ERROR(split(x, std::vector<int64_t>{}, 0), "split", "empty");
  EXPECT_ERROR(split(Tensor::scalar(1.0), 1, 0), "split", "at least one dim");
  EXPECT_ERROR(split(x, 1, 2), "split", "dim 2", "out of range");
}

TEST(Join, ChunkPieceCounts) {
  EXPECT_EQ(sizes_along(chunk(Tensor::zeros({5, 2}), 3, 0), 0), (std::vector<int64_t>{2, 2, 1}));
  // 6 in 4 chunks: pieces of ceil(6/4) = 2, so only 3 pieces (as torch.chunk).
  EXPECT_EQ(sizes_along(chunk(Tensor::zeros({6}), 4, 0), 0), (std::vector<int64_t>{2, 2, 2}));
  // An empty dim still gives `chunks` pieces.
  EXPECT_EQ(sizes_along(chunk(Tensor::zeros({0, 2}), 3, 0), 0), (std::vector<int64_t>{0, 0, 0}));
  EXPECT_ERROR(chunk(Tensor::zeros({4}), 0, 0), "chunk", "chunks must be > 0", "0");
  EXPECT_ERROR(chunk(Tensor::scalar(1.0), 2, 0), "chunk", "at least one dim");
}

}  // namespace
}  // namespace ssm
