// fft, ifft, rfft, irfft on CUDA (cuFFT) against the float64 CPU transforms at lengths the op
// table's small samples do not reach: powers of two, 5-smooth, prime and 2 x prime lengths up to
// 16k, padding and truncation, a transformed middle dim, an input view whose data is not aligned
// to a complex pair (the copy path), irfft's ignored imaginary parts, and the plan cache.
#include <cmath>

#include "ops/cuda/fft_cuda.h"
#include "ops/fft.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using FftCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

// Outputs of size ~sqrt(n) from n rounded products; float32 against the float64 CPU result.
Tol tol_for(DType dt, int64_t n) {
  double s = std::sqrt(double(n));
  return dt == DType::f64 ? Tol{1e-11 * s, 1e-9} : Tol{3e-5 * s, 1e-4, 2e-5};
}

TEST_F(FftCuda, LengthsAndLayouts) {
  for (DType dt : {DType::f64, DType::f32})
    for (int64_t n : {16, 1000, 1009, 2018, 4096, 16384, 15360}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " n " + std::to_string(n));
      Tol tol = tol_for(dt, n);
      uint64_t s = uint64_t(n);
      check_dense([](const std::vector<Tensor>& in) { return rfft(in[0]); }, {rn({6, n}, s)}, dt, tol, s + 1);
      check_dense([n](const std::vector<Tensor>& in) { return irfft(in[0], n); }, {rn({5, n / 2 + 1, 2}, s + 2)},
                  dt, tol_for(dt, 1), s + 3);
      check_dense([](const std::vector<Tensor>& in) { return fft(in[0]); }, {rn({3, n, 2}, s + 4)}, dt, tol, s + 5);
      check_dense([](const std::vector<Tensor>& in) { return ifft(in[0]); }, {rn({3, n, 2}, s + 6)}, dt,
                  tol_for(dt, 1), s + 7);
      // padded and truncated, along a middle dim
      check_dense([n](const std::vector<Tensor>& in) { return rfft(in[0], n, 1); }, {rn({2, n / 2 + 3, 3}, s + 8)},
                  dt, tol, s + 9);
      check_dense([n](const std::vector<Tensor>& in) { return fft(in[0], n / 2 + 1, 0); }, {rn({n, 2, 2}, s + 10)},
                  dt, tol, s + 11);
      check_dense([n](const std::vector<Tensor>& in) { return irfft(in[0], n, 0); }, {rn({n / 3 + 1, 2, 2}, s + 12)},
                  dt, tol_for(dt, 1), s + 13);
    }
}

TEST_F(FftCuda, UnalignedViewAndHermitianBins) {
  // A contiguous view starting one float into its storage: complex pairs that cuFFT cannot
  // take as they are, so they go through the copy.
  Tensor flat = rn({601}, 21).to(DType::f32);
  Tensor host = flat.narrow(0, 1, 600).view({3, 100, 2});
  Tensor dev = flat.to(Device::cuda(0)).narrow(0, 1, 600).view({3, 100, 2});
  ASSERT_TRUE(dev.is_contiguous());
  EXPECT_CLOSE(fft(dev).cpu().to(DType::f64), fft(host.to(DType::f64)), tol_for(DType::f32, 100));
  // irfft ignores the imaginary parts of bins 0 and n/2, as on the CPU.
  Tensor X = rn({2, 9, 2}, 22);
  EXPECT_CLOSE(irfft(X.to(Device::cuda(0)), 16).cpu(), irfft(X, 16), tol_for(DType::f64, 1));
}

TEST_F(FftCuda, PlansAreCached) {
  Tensor x = rn({4, 3000}, 23).to(DType::f32).to(Device::cuda(0));
  rfft(x);
  int64_t after = cuda::fft_cached_plans();
  for (int i = 0; i < 3; ++i) rfft(x);
  EXPECT_EQ(cuda::fft_cached_plans(), after);
  for (int64_t n = 100; n < 200; ++n) rfft(x, n);
  EXPECT_LE(cuda::fft_cached_plans(), 64);
}

}  // namespace
}  // namespace ssm::testing
