// Tensor basics: factories, views and their strides, copies and conversions, printing, errors.
#include <gtest/gtest.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/tensor.h"

namespace ssm {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Tensor, FactoriesHaveShapeDtypeAndValues) {
  Tensor z = Tensor::zeros({2, 3}, DType::f64);
  EXPECT_EQ(z.shape(), (Shape{2, 3}));
  EXPECT_EQ(z.dtype(), DType::f64);
  EXPECT_EQ(z.to_vector<double>(), std::vector<double>(6, 0.0));
  EXPECT_EQ(Tensor::full({4}, 2.5).to_vector<float>(), std::vector<float>(4, 2.5f));
  EXPECT_EQ(Tensor::arange(4).to_vector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3}));
  Tensor s = Tensor::scalar(3.0);
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.numel(), 1);
  EXPECT_EQ(s.item<float>(), 3.0f);
  EXPECT_EQ(Tensor::empty({0, 5}).numel(), 0);
}

TEST(Tensor, FromVectorChecksTheElementCount) {
  std::string msg = error_of([] { Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}); });
  EXPECT_NE(msg.find("3 values do not fill shape (2, 2)"), std::string::npos) << msg;
}

TEST(Tensor, ViewsShareStorageAndHaveTheRightStrides) {
  Tensor a = Tensor::arange(24).reshape({2, 3, 4});
  EXPECT_EQ(a.strides(), (Shape{12, 4, 1}));
  Tensor p = a.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(p.strides(), (Shape{1, 12, 4}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.storage(), a.storage());
  EXPECT_EQ(p.at({3, 1, 2}), a.at({1, 2, 3}));

  Tensor n = a.narrow(2, 1, 2);
  EXPECT_EQ(n.offset(), 1);
  EXPECT_EQ(n.to_vector<int64_t>()[0], 1);
  Tensor s = a.slice(2, 0, 4, 3);  // elements 0 and 3 of the last dim
  EXPECT_EQ(s.shape(), (Shape{2, 3, 2}));
  EXPECT_EQ(s.strides()[2], 3);
  EXPECT_EQ(s.at({1, 2, 1}), 23);
  Tensor sel = a.select(1, -1);
  EXPECT_EQ(sel.shape(), (Shape{2, 4}));
  EXPECT_EQ(sel.at({1, 0}), 20);

  Tensor e = Tensor::arange(3).reshape({3, 1}).expand({2, 3, 4});
  EXPECT_EQ(e.strides(), (Shape{0, 1, 0}));
  EXPECT_EQ(e.at({1, 2, 3}), 2);
  EXPECT_EQ(a.unsqueeze(1).shape(), (Shape{2, 1, 3, 4}));
  EXPECT_EQ(a.unsqueeze(-1).shape(), (Shape{2, 3, 4, 1}));
  EXPECT_EQ(a.unsqueeze(0).squeeze(0).shape(), a.shape());
  EXPECT_EQ(a.flatten(1).shape(), (Shape{2, 12}));
}

TEST(Tensor, ViewOfTransposedTensorSplitsAndMergesCompatibleDims) {
  Tensor a = Tensor::arange(24).reshape({4, 6}).t();  // (6, 4), strides (1, 6)
  Tensor v = a.view({2, 3, 4});                          // splitting dim 0 is fine
  EXPECT_EQ(v.strides(), (Shape{3, 1, 6}));
  EXPECT_EQ(v.at({1, 2, 3}), a.at({5, 3}));
  std::string msg = error_of([&] { a.view({24}); });
  EXPECT_NE(msg.find("use reshape()"), std::string::npos) << msg;
  Tensor r = a.reshape({24});  // copies
  EXPECT_TRUE(r.is_contiguous());
  EXPECT_NE(r.storage(), a.storage());
  EXPECT_EQ(r.to_vector<int64_t>()[1], 6);
}

TEST(Tensor, ContiguousCopiesOnlyWhenNeeded) {
  Tensor a = Tensor::randn({3, 4});
  EXPECT_EQ(a.contiguous().storage(), a.storage());
  Tensor t = a.t().contiguous();
  EXPECT_NE(t.storage(), a.storage());
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.at({2, 1}), a.at({1, 2}));
}

TEST(Tensor, ShapeErrorsNameTheProblem) {
  Tensor a = Tensor::zeros({2, 3});
  EXPECT_NE(error_of([&] { a.reshape({4, 2}); }).find("invalid for a tensor of shape (2, 3)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a.reshape({-1, -1}); }).find("only one dimension can be -1"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a.permute({0, 0}); }).find("appears twice"), std::string::npos);
  EXPECT_NE(error_of([&] { a.narrow(1, 2, 2); }).find("does not fit dim 1 of size 3"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a.expand({2, 4}); }).find("cannot expand"), std::string::npos);
  EXPECT_NE(error_of([&] { a.select(0, 2); }).find("out of range"), std::string::npos);
  EXPECT_NE(error_of([&] { a.size(2); }).find("dim 2 is out of range for a tensor with 2 dims"),
            std::string::npos);
  EXPECT_NE(error_of([&] { a.data<double>(); }).find("called on a float32 tensor"),
            std::string::npos);
  Shape nine;
  EXPECT_NE(error_of([&] {
              for (int i = 0; i < 9; ++i) nine.push_back(1);
            }).find("at most 8 dims"),
            std::string::npos);
}

TEST(Tensor, CopyBroadcastsAndConverts) {
  Tensor dst = Tensor::zeros({2, 3}, DType::i32);
  dst.copy_(Tensor::from_vector(std::vector<double>{1.7, -2.2, 3.9}, {3}));
  EXPECT_EQ(dst.to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3, 1, -2, 3}));
  // float -> int saturates and sends NaN to 0 instead of undefined behaviour
  Tensor f = Tensor::from_vector(std::vector<double>{1e300, -1e300, NAN}, {3});
  EXPECT_EQ(f.to(DType::i32).to_vector<int32_t>(),
            (std::vector<int32_t>{INT32_MAX, INT32_MIN, 0}));
  Tensor b = Tensor::from_vector(std::vector<float>{0, 2, -0.5}, {3}).to(DType::b8);
  EXPECT_EQ(b.to_vector<int32_t>(), (std::vector<int32_t>{0, 1, 1}));
  // into a non-contiguous destination
  Tensor m = Tensor::zeros({3, 2});
  m.t().copy_(Tensor::arange(6).reshape({2, 3}));
  EXPECT_EQ(m.to_vector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  EXPECT_NE(error_of([&] { m.copy_(Tensor::zeros({4})); }).find("cannot be broadcast"),
            std::string::npos);
}

TEST(Tensor, CopyBumpsTheStorageVersion) {
  Tensor a = Tensor::zeros({3});
  uint32_t v = a.storage()->version;
  a.fill_(1.0);
  EXPECT_EQ(a.storage()->version, v + 1);
  a.copy_(Tensor::ones({3}));
  EXPECT_EQ(a.storage()->version, v + 2);
}

TEST(Tensor, ComplexIsAStorageDtypeWithRealPairViews) {
  Tensor c = Tensor::from_complex({{1, 2}, {3, -4}}, {2});
  EXPECT_EQ(c.dtype(), DType::c128);
  Tensor r = c.view_as_real();
  EXPECT_EQ(r.shape(), (Shape{2, 2}));
  EXPECT_EQ(r.dtype(), DType::f64);
  EXPECT_EQ(r.storage(), c.storage());
  EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{1, 2, 3, -4}));
  Tensor c64 = c.to(DType::c64);
  EXPECT_EQ(c64.view_as_real().to_vector<float>(), (std::vector<float>{1, 2, 3, -4}));
  Tensor from_real = Tensor::arange(2).to(DType::f32).to(DType::c64);
  EXPECT_EQ(from_real.view_as_real().to_vector<float>(), (std::vector<float>{0, 0, 1, 0}));
  EXPECT_NE(error_of([&] { c.to(DType::f64); }).find("drop the imaginary part"), std::string::npos);
  EXPECT_EQ(r.view_as_complex().storage(), c.storage());
  c.fill_(5.0);
  EXPECT_EQ(r.to_vector<double>(), (std::vector<double>{5, 0, 5, 0}));
}

TEST(Tensor, PrintsLikePyTorch) {
  Tensor a = Tensor::from_vector(std::vector<float>{1, -2.5f, 3, 4}, {2, 2});
  EXPECT_EQ(a.str(), "tensor([[ 1.0000, -2.5000],\n        [ 3.0000,  4.0000]])");
  EXPECT_EQ(Tensor::arange(3).str(), "tensor([0, 1, 2], dtype=int64)");
  Tensor big = Tensor::zeros({2000}, DType::f64);
  EXPECT_NE(big.str().find("..."), std::string::npos);
  Tensor g = Tensor::ones({2}).requires_grad_();
  EXPECT_EQ(g.str(), "tensor([1.0000, 1.0000], requires_grad=True)");
}

TEST(Tensor, HalfPrecisionConversionsRoundToNearestEven) {
  // Every bf16 and f16 bit pattern survives a round trip through float (NaNs stay NaN).
  for (uint32_t b = 0; b < 65536; ++b) {
    float fb = to_float(bf16{uint16_t(b)});
    if (fb != fb)
      EXPECT_TRUE(to_float(to_bf16(fb)) != to_float(to_bf16(fb)));
    else
      ASSERT_EQ(to_bf16(fb).bits, b);
    float fh = to_float(f16{uint16_t(b)});
    if (fh != fh)
      EXPECT_TRUE(to_float(to_f16(fh)) != to_float(to_f16(fh)));
    else
      ASSERT_EQ(to_f16(fh).bits, b) << "f16 bits " << b;
  }
  EXPECT_EQ(to_float(to_bf16(1.00390625f)), 1.0f);       // halfway, rounds to even
  EXPECT_EQ(to_float(to_bf16(1.01171875f)), 1.015625f);  // halfway, rounds to even (up)
  EXPECT_EQ(to_float(to_f16(65504.f)), 65504.f);          // largest finite f16
  EXPECT_TRUE(std::isinf(to_float(to_f16(65520.f))));     // rounds up to infinity
  EXPECT_EQ(to_float(to_f16(5.9604645e-08f)), 5.9604645e-08f);  // smallest subnormal
  EXPECT_EQ(to_float(to_f16(2.9802322e-08f)), 0.0f);             // half of it: ties to even (0)
}

TEST(Tensor, DevicesParseAndCudaIsReportedClearly) {
  EXPECT_EQ(parse_device("cpu"), Device::cpu());
  EXPECT_EQ(parse_device("cuda:1"), Device::cuda(1));
  EXPECT_NE(error_of([] { parse_device("gpu"); }).find("expected auto, cpu, cuda or cuda:N"),
            std::string::npos);
  if (!cuda_available()) {
    std::string msg = error_of([] { Tensor::zeros({2}).to(Device::cuda()); });
    EXPECT_FALSE(msg.empty());
    EXPECT_TRUE(msg.find("CUDA") != std::string::npos || msg.find("GPU") != std::string::npos)
        << msg;
  }
}

}  // namespace
}  // namespace ssm
