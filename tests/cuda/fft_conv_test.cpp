// fft_conv on CUDA against the float64 CPU op at S4's shapes (lengths 1k and 4k, a short kernel,
// the bidirectional form, a channel-last input): outputs and the gradients of u, k and k_rev.
#include <cmath>

#include "ops/fft_conv.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using FftConvCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

TEST_F(FftConvCuda, MatchesCpu) {
  auto causal = [](const std::vector<Tensor>& in) { return fft_conv(in[0], in[1]); };
  auto bidir = [](const std::vector<Tensor>& in) { return fft_conv(in[0], in[1], in[2]); };
  for (DType dt : {DType::f64, DType::f32})
    for (int64_t L : {1000, 4096}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " L " + std::to_string(L));
      // Sums of L products of unit normals (the kernel gradient: B L of them).
      double s = std::sqrt(double(L));
      Tol tol = dt == DType::f64 ? Tol{1e-10 * s, 1e-9} : Tol{5e-5 * s, 1e-4, 2e-5};
      uint64_t seed = uint64_t(L);
      check_dense(causal, {rn({2, 8, L}, seed), rn({8, L}, seed + 1)}, dt, tol, seed + 2);
      check_dense(causal, {rn({3, 5, L}, seed + 3), rn({5, 31}, seed + 4)}, dt, tol, seed + 5);
      check_dense(bidir, {rn({2, 4, L}, seed + 6), rn({4, L}, seed + 7), rn({4, L}, seed + 8)}, dt, tol,
                  seed + 9);
      // u laid out channel-last on the device: (B, L, H) viewed as (B, H, L)
      check_dense(causal, {rn({2, 6, L}, seed + 10), rn({6, L / 2}, seed + 11)}, dt, tol, seed + 12, true,
                  {0});
    }
}

}  // namespace
}  // namespace ssm::testing
