// CUDA copies and fills against the CPU: every pair of real dtypes, strided and broadcast sources,
// non-contiguous destinations, host <-> device through non-contiguous views, complex widths.
// Device allocations are NaN-poisoned, so an element a kernel does not write shows up.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "core/tensor.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

class CudaCopy : public ::ssm::testing::GpuTest<> {};

const Device kGpu = Device::cuda(0);
constexpr DType kReal[] = {DType::f32, DType::f64, DType::bf16, DType::f16,
                           DType::i32, DType::i64, DType::b8};

// Values that exercise the conversion rules: NaN, +-inf, huge, fractions, negatives, zero.
Tensor special_values() {
  double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v = {0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.7, 1e10, -1e10, 1e20, -1e20, inf,
                           -inf, std::nan(""), 65504.0, 70000.0, 2147483647.0, -2147483649.0,
                           9.3e18, -9.3e18, 1e-8, 123456.789, -7.0, 255.0};
  return Tensor::from_vector(v, Shape{4, 6});
}

void expect_same(const Tensor& gpu, const Tensor& cpu) {
  ASSERT_EQ(gpu.device(), kGpu);
  Tensor back = gpu.cpu();
  ASSERT_EQ(back.dtype(), cpu.dtype());
  ASSERT_EQ(back.shape(), cpu.shape());
  // compare as bits-equivalent doubles (NaN == NaN)
  std::vector<double> a = back.to(DType::f64).to_vector<double>();
  std::vector<double> b = cpu.to(DType::f64).to_vector<double>();
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))
        << "element " << i << ": " << a[i] << " vs " << b[i];
}

TEST_F(CudaCopy, EveryDtypePairMatchesTheCpu) {
  Tensor base = special_values();
  for (DType from : kReal) {
    Tensor src_cpu = base.to(from);
    Tensor src_gpu = src_cpu.to(kGpu);
    for (DType to : kReal) {
      SCOPED_TRACE(std::string(dtype_name(from)) + " -> " + dtype_name(to));
      expect_same(src_gpu.to(to), src_cpu.to(to));
      // strided source (transposed) and strided destination
      Tensor d_gpu = Tensor::empty({6, 4}, to, kGpu).t();
      d_gpu.copy_(src_gpu.t().contiguous().t());
      expect_same(d_gpu, src_cpu.to(to));
    }
  }
}

TEST_F(CudaCopy, StridedViewsBroadcastAndLargeShapes) {
  Generator g(7);
  Tensor x = Tensor::randn({37, 129, 65}, DType::f64, &g);
  Tensor xg = x.to(kGpu);
  for (DType dt : {DType::f32, DType::bf16, DType::f64}) {
    SCOPED_TRACE(dtype_name(dt));
    expect_same(xg.permute({2, 0, 1}).to(dt).contiguous(), x.permute({2, 0, 1}).to(dt).contiguous());
    expect_same(xg.slice(1, 3, 120, 5).clone(), x.slice(1, 3, 120, 5).clone());
    expect_same(xg.narrow(2, 1, 63).transpose(0, 2).to(dt), x.narrow(2, 1, 63).transpose(0, 2).to(dt));
  }
  // broadcast source into a narrowed destination
  Tensor row = Tensor::randn({65}, DType::f32, &g);
  Tensor dst_cpu = Tensor::zeros({37, 129, 65}, DType::f32);
  Tensor dst_gpu = dst_cpu.to(kGpu);
  dst_cpu.narrow(1, 10, 50).copy_(row);
  dst_gpu.narrow(1, 10, 50).copy_(row.to(kGpu));
  expect_same(dst_gpu, dst_cpu);
  // a long flat conversion (> one grid of blocks' worth)
  Tensor big = Tensor::randn({5 << 20}, DType::f32, &g);
  expect_same(big.to(kGpu).to(DType::bf16), big.to(DType::bf16));
}

TEST_F(CudaCopy, HostAndDeviceThroughNonContiguousViews) {
  Generator g(8);
  Tensor x = Tensor::randn({33, 17}, DType::f64, &g);
  // host -> non-contiguous device destination, with a dtype change
  Tensor dg = Tensor::zeros({17, 33}, DType::f32, kGpu);
  dg.t().copy_(x);
  expect_same(dg, x.t().to(DType::f32).contiguous());
  Tensor dg2 = Tensor::zeros({33, 40}, DType::bf16, kGpu);
  dg2.narrow(1, 5, 17).copy_(x.t().contiguous().t());
  Tensor ref = Tensor::zeros({33, 40}, DType::bf16);
  ref.narrow(1, 5, 17).copy_(x);
  expect_same(dg2, ref);
  // device (non-contiguous) -> host (non-contiguous)
  Tensor xg = x.to(kGpu);
  Tensor h = Tensor::zeros({17, 33}, DType::f64);
  h.t().copy_(xg.t().contiguous().t());
  expect_same(h.to(kGpu), x.t().contiguous());
  Tensor h2 = Tensor::zeros({17}, DType::f32);
  h2.copy_(xg.select(0, 4));
  expect_same(h2.to(kGpu), x.select(0, 4).to(DType::f32));
}

TEST_F(CudaCopy, FillAnyLayoutAndDtype) {
  for (DType dt : kReal) {
    SCOPED_TRACE(dtype_name(dt));
    for (double v : {0.0, 1.0, -3.5, 1e20, std::nan("")}) {
      Tensor c = Tensor::zeros({9, 31}, dt);
      Tensor gg = Tensor::zeros({9, 31}, dt, kGpu);
      c.slice(1, 1, 31, 3).fill_(v);
      gg.slice(1, 1, 31, 3).fill_(v);
      expect_same(gg, c);
      expect_same(Tensor::full({1000003}, v, dt, kGpu), Tensor::full({1000003}, v, dt));
    }
  }
}

TEST_F(CudaCopy, ComplexWidthsAndRealToComplex) {
  std::vector<std::complex<double>> v = {{1, 2}, {-3, 0.5}, {0, -1}, {4.25, 8}, {1e-3, 7}, {2, 2}};
  Tensor c = Tensor::from_complex(v, Shape{2, 3});
  Tensor cg = c.to(kGpu);
  expect_same(cg.to(DType::c64).view_as_real(), c.to(DType::c64).view_as_real());
  expect_same(cg.t().contiguous().view_as_real(), c.t().contiguous().view_as_real());
  Tensor r = Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, Shape{2, 3});
  expect_same(r.to(kGpu).to(DType::c128).view_as_real(), r.to(DType::c128).view_as_real());
  Tensor f = Tensor::zeros({4, 5}, DType::c64, kGpu);
  f.fill_(2.5);
  expect_same(f.view_as_real(), Tensor::full({4, 5}, 2.5, DType::c64).view_as_real());
}

}  // namespace
}  // namespace ssm
