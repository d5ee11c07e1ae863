// ops/flip beyond the OpInfo table: errors, any dtype, empty and non-contiguous inputs.
#include <gtest/gtest.h>

#include <vector>

#include "core/error.h"
#include "ops/flip.h"

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

TEST(Flip, Values) {
  Tensor x = Tensor::arange(6).reshape({2, 3});
  EXPECT_EQ(flip(x, {1}).to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 0, 5, 4, 3}));
  EXPECT_EQ(flip(x, {0}).to_vector<int64_t>(), (std::vector<int64_t>{3, 4, 5, 0, 1, 2}));
  EXPECT_EQ(flip(x, {-1, -2}).to_vector<int64_t>(), (std::vector<int64_t>{5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(flip(x.t(), {0}).to_vector<int64_t>(), (std::vector<int64_t>{2, 5, 1, 4, 0, 3}));
  EXPECT_EQ(flip(x.slice(1, 0, 3, 2), {1}).to_vector<int64_t>(), (std::vector<int64_t>{2, 0, 5, 3}));
  Tensor y = flip(x, {});
  EXPECT_NE(y.storage(), x.storage()) << "flip always returns a copy";
  EXPECT_EQ(y.to_vector<int64_t>(), x.to_vector<int64_t>());
  EXPECT_EQ(flip(Tensor::zeros({0, 3}), {0, 1}).shape(), (Shape{0, 3}));
}

TEST(Flip, MovesBitsOfAnyDtype) {
  Tensor h = Tensor::from_vector(std::vector<float>{1.0078125f, -3.5f, 65280.0f}, {3}).to(DType::bf16);
  Tensor y = flip(h, {0});
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{65280.0f, -3.5f, 1.0078125f}));
}

TEST(Flip, Errors) {
  Tensor x = Tensor::zeros({3, 4});
  EXPECT_ERROR(flip(x, {1, -1}), "flip", "dim 1", "more than once");
  EXPECT_ERROR(flip(x, {2}), "flip", "dim 2", "out of range");
  EXPECT_ERROR(flip(Tensor(), {0}), "flip", "undefined");
}

}  // namespace
}  // namespace ssm
