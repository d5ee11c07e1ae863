// ops/pad beyond the OpInfo table: exact values of each mode, the reflect backward's sums,
// integer and bf16 inputs, inputs PyTorch would refuse for lack of batch dims, and every error.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/pad.h"

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

Tensor row(std::vector<double> v) { return Tensor::from_vector(v, Shape{int64_t(v.size())}); }

TEST(Pad, ModesOnOneRow) {
  Tensor x = row({1, 2, 3, 4});
  EXPECT_EQ(pad(x, {2, 1}, PadMode::constant, 9).to_vector<double>(),
            (std::vector<double>{9, 9, 1, 2, 3, 4, 9}));
  EXPECT_EQ(pad(x, {2, 1}, PadMode::reflect).to_vector<double>(),
            (std::vector<double>{3, 2, 1, 2, 3, 4, 3}));
  EXPECT_EQ(pad(x, {2, 1}, PadMode::replicate).to_vector<double>(),
            (std::vector<double>{1, 1, 1, 2, 3, 4, 4}));
  // Negative pads crop, in every mode.
  EXPECT_EQ(pad(x, {-1, -2}).to_vector<double>(), (std::vector<double>{2}));
  EXPECT_EQ(pad(x, {-1, 2}, PadMode::reflect).to_vector<double>(), (std::vector<double>{2, 3, 4, 3, 2}));
  EXPECT_EQ(pad(x, {-5, 2}, PadMode::replicate).to_vector<double>(), (std::vector<double>{4}));
  EXPECT_EQ(pad(x, {-2, -2}).shape(), (Shape{0}));
  // Past the end: a constant pad that starts beyond x reads only the fill value.
  EXPECT_EQ(pad(x, {-5, 3}, PadMode::constant, 7).to_vector<double>(), (std::vector<double>{7, 7}));
}

TEST(Pad, TwoDimsAndLeadingDims) {
  Tensor x = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3});
  // Two pairs on a 2-D tensor (PyTorch wants a batch dim for this; here it is optional).
  EXPECT_EQ(pad(x, {1, 0, 0, 1}, PadMode::replicate).to_vector<double>(),
            (std::vector<double>{1, 1, 2, 3, 4, 4, 5, 6, 4, 4, 5, 6}));
  EXPECT_EQ(pad(x, {0, 0, 1, 0}, PadMode::constant, -1).to_vector<double>(),
            (std::vector<double>{-1, -1, -1, 1, 2, 3, 4, 5, 6}));
  Tensor b = Tensor::zeros({2, 0, 3});  // empty batch dim
  EXPECT_EQ(pad(b, {1, 1}, PadMode::reflect).shape(), (Shape{2, 0, 5}));
  Tensor s = pad(Tensor::scalar(3.0), {});
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 3.0f);
}

TEST(Pad, IntegerAndBf16Inputs) {
  Tensor i = Tensor::from_vector(std::vector<int64_t>{1, 2}, {2});
  // The fill value is converted like PyTorch's (2.5 -> 2 for an integer tensor).
  EXPECT_EQ(pad(i, {1, 1}, PadMode::constant, 2.5).to_vector<int64_t>(), (std::vector<int64_t>{2, 1, 2, 2}));
  Tensor h = Tensor::from_vector(std::vector<float>{1.0078125f, -3.5f, 65280.0f}, {3}).to(DType::bf16);
  Tensor y = pad(h, {2, 0}, PadMode::reflect);
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{65280.0f, -3.5f, 1.0078125f, -3.5f, 65280.0f}));
}

TEST(Pad, BackwardSumsTheReadsOfEachElement) {
  // reflect (2, 1) of [a, b, c, d] reads c, b, a, b, c, d, c: b and c are read twice.
  Tensor x = Tensor::zeros({4}, DType::f64).requires_grad_();
  pad(x, {2, 1}, PadMode::reflect).backward(row({1, 10, 100, 1000, 10000, 100000, 1000000}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{100, 1010, 1010001, 100000}));
  Tensor z = Tensor::zeros({3}, DType::f64).requires_grad_();
  pad(z, {2, 1}, PadMode::replicate).backward(row({1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(z.grad().to_vector<double>(), (std::vector<double>{6, 4, 11}));
  // Constant: the window of g over x, zeros where x was cropped away.
  Tensor c = Tensor::zeros({4}, DType::f64).requires_grad_();
  pad(c, {-1, 1}).backward(row({1, 2, 3, 4}));
  EXPECT_EQ(c.grad().to_vector<double>(), (std::vector<double>{0, 1, 2, 3}));
}

TEST(Pad, Errors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR(pad(x, {1, 1, 1}), "pad", "(left, right) pairs", "3 values");
  EXPECT_ERROR(pad(x, {1, 1, 1, 1, 1, 1}), "pad", "3 (left, right) pairs", "(2, 3)");
  EXPECT_ERROR(pad(x, {3, 1}, PadMode::reflect), "pad", "reflect padding (3, 1)", "dim 1",
               "smaller than its size 3");
  EXPECT_ERROR(pad(x, {-2, -2}), "pad", "padding (-2, -2)", "negative size -1");
  EXPECT_ERROR(pad(x, {-2, -1}, PadMode::replicate), "pad", "leaves size 0", "replicate");
  EXPECT_ERROR(pad(Tensor::zeros({2, 0}), {1, 1}, PadMode::replicate), "pad", "non-empty dim 1");
  EXPECT_ERROR(pad(x, {1, 1}, PadMode::reflect, 1.0), "pad", "'reflect' takes no fill value");
  EXPECT_ERROR(pad(Tensor::zeros({2, 2, 2, 2}), {1, 1, 1, 1, 1, 1, 1, 1}, PadMode::replicate), "pad",
               "last 1 to 3 dims", "4 (left, right) pairs");
  EXPECT_ERROR(pad(x, {int64_t(1) << 62, 0}), "pad", "out of any sensible range");
  EXPECT_ERROR(pad_mode("circular"), "pad", "unknown mode 'circular'", "constant, reflect or replicate");
  EXPECT_EQ(pad_mode("replicate"), PadMode::replicate);
  EXPECT_ERROR(pad(Tensor(), {}), "pad", "undefined");
}

}  // namespace
}  // namespace ssm
