// long_conv on CUDA against the CPU op in float64 on the same (dtype-rounded) inputs, at the
// layers' shapes: every transform size the fused block takes (L 1 .. 16384 in float32, to 8192 in
// float64), the bidirectional form, no skip / no GELU, batches cut into several chunks by the
// backward, and lengths past the shared memory, where the op composes fft_conv instead. Errors
// are measured against each tensor's largest magnitude.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/autograd.h"
#include "core/rng.h"
#include "cuda/gpu_test.h"
#include "ops/elementwise.h"
#include "ops/long_conv.h"
#include "ops/reduce.h"

namespace ssm::testing {
namespace {

// The fused kernel is opt-in (ops/long_conv.h): these tests turn it on; the op table's CUDA
// check (op_info_cuda_test.cpp) runs the default, the composite.
class LongConvCuda : public GpuTest<> {
 protected:
  void SetUp() override {
    GpuTest<>::SetUp();
    was_ = cuda::long_conv_fused();
    cuda::set_long_conv_fused(true);
  }
  void TearDown() override {
    cuda::set_long_conv_fused(was_);
    GpuTest<>::TearDown();
  }

 private:
  bool was_ = false;
};

double rel_err(const Tensor& a, const Tensor& e) {
  Tensor ad = a.detach().cpu().to(DType::f64), ed = e.detach().cpu().to(DType::f64);
  double scale = max(abs(ed)).item<double>();
  double err = max(abs(sub(ad, ed))).item<double>();
  return scale > 0 ? err / scale : err;
}

void check_case(int64_t B, int64_t L, int64_t H, int64_t Lr, bool skip, bool gelu, DType dt,
                uint64_t seed) {
  SCOPED_TRACE(std::string(dtype_name(dt)) + " B " + std::to_string(B) + " L " + std::to_string(L) +
               " H " + std::to_string(H) + " Lr " + std::to_string(Lr) + (skip ? " skip" : "") +
               (gelu ? " gelu" : ""));
  Generator g(seed);
  auto make = [&](const Shape& s, double scale) {
    return mul(Tensor::randn(s, DType::f64, &g), scale).to(dt).to(DType::f64).requires_grad_(true);
  };
  std::vector<Tensor> cpu = {make({B, L, H}, 1.0), make({H, L}, 1.0 / std::sqrt(double(L)))};
  if (skip) cpu.push_back(make({H}, 1.0));
  if (Lr) cpu.push_back(make({H, Lr}, 1.0 / std::sqrt(double(Lr))));
  std::vector<Tensor> gpu;
  for (const Tensor& t : cpu) gpu.push_back(t.detach().to(dt).to(Device::cuda(0)).requires_grad_(true));
  auto run = [&](const std::vector<Tensor>& in) {
    return long_conv(in[0], in[1], skip ? in[2] : Tensor(), Lr ? in.back() : Tensor(), gelu);
  };
  Tensor ref = run(cpu), out = run(gpu);
  ASSERT_EQ(out.device(), Device::cuda(0));
  const double tol = dt == DType::f64 ? 1e-11 : 2e-5 * std::max(1.0, std::log2(double(L)));
  EXPECT_LT(rel_err(out, ref), tol) << "y";
  Tensor v = Tensor::randn(ref.shape(), DType::f64, &g).to(dt).to(DType::f64);
  ref.backward(v);
  out.backward(v.to(dt).to(Device::cuda(0)));
  const char* names[] = {"u", "k", skip ? "D" : "k_rev", "k_rev"};
  for (size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_TRUE(gpu[i].grad().defined()) << names[i];
    EXPECT_LT(rel_err(gpu[i].grad(), cpu[i].grad()), tol) << "gradient of " << names[i];
  }
}

TEST_F(LongConvCuda, MatchesCpuAtEveryBlockSize) {
  uint64_t seed = 1;
  for (int64_t L : {1, 20, 33, 100, 512, 1000, 1024, 2049, 4096, 8192})
    check_case(3, L, 5, 0, true, true, DType::f32, seed++);
  check_case(2, 16384, 4, 0, true, true, DType::f32, seed++);  // the largest block: m = 16384
  for (int64_t L : {1, 100, 1024, 8192}) check_case(2, L, 3, 0, true, true, DType::f64, seed++);
}

TEST_F(LongConvCuda, Variants) {
  check_case(2, 700, 6, 700, true, true, DType::f32, 21);   // bidirectional (S4's FFTConv)
  check_case(2, 300, 3, 40, false, true, DType::f32, 22);   // short reverse kernel, no skip
  check_case(3, 500, 4, 0, true, false, DType::f32, 23);    // no GELU
  check_case(37, 256, 2, 0, true, true, DType::f32, 24);    // many rows per channel: chunks
  check_case(2, 3000, 3, 3000, true, true, DType::f64, 25);
}

TEST_F(LongConvCuda, LongerThanABlockFallsBackToTheComposite) {
  check_case(1, 20000, 2, 0, true, true, DType::f32, 31);  // n/2 = 32768 > 16384
  check_case(1, 9000, 2, 0, true, true, DType::f64, 32);   // n/2 = 16384 > 8192
}

}  // namespace
}  // namespace ssm::testing
