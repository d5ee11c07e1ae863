// diag_scan on CUDA against the float64 CPU op: several chunks of the three-pass scan (lengths
// 1000 and 4096, with a partial last chunk), time-invariant and per-step λ, both directions,
// packed sequences; outputs and the gradients of λ and b.
#include <cmath>

#include "ops/diag_scan.h"
#include "ops/elementwise.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using DiagScanCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

// λ = r e^{iθ}, r in [0.9, 1): long memories, as S5's modes have.
Tensor lam(const Shape& modes, uint64_t seed) {
  Generator g(seed);
  std::vector<double> r = Tensor::uniform(modes, 0.9, 1.0, DType::f64, &g).to_vector<double>();
  std::vector<double> t = Tensor::uniform(modes, -3.0, 3.0, DType::f64, &g).to_vector<double>();
  std::vector<double> v;
  for (size_t i = 0; i < r.size(); ++i) {
    v.push_back(r[i] * std::cos(t[i]));
    v.push_back(r[i] * std::sin(t[i]));
  }
  Shape s = modes;
  s.push_back(2);
  return Tensor::from_vector(v, s);
}

Tensor starts(int64_t B, int64_t L) {
  std::vector<int64_t> v(size_t(B * L), 0);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 37 * (b + 1); t < L; t += 129 + 64 * b) v[size_t(b * L + t)] = 1;
  return Tensor::from_vector(v, {B, L});
}

TEST_F(DiagScanCuda, MatchesCpu) {
  for (DType dt : {DType::f64, DType::f32})
    for (int64_t L : {1000, 4096})
      for (bool reverse : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " L " + std::to_string(L) +
                     (reverse ? " reverse" : ""));
        // The states sum about 1 / (1 - |λ|) <= 10 unit terms; λ's gradient B L of them.
        double s = std::sqrt(double(L));
        Tol tol = dt == DType::f64 ? Tol{1e-9 * s, 1e-8} : Tol{1e-4 * s, 1e-3, 1e-4};
        uint64_t seed = uint64_t(L) + (reverse ? 7 : 0);
        auto plain = [reverse](const std::vector<Tensor>& in) { return diag_scan(in[0], in[1], reverse); };
        auto packed = [reverse](const std::vector<Tensor>& in) {
          return diag_scan(in[0], in[1], reverse, in[2]);
        };
        const int64_t B = 2, P = 130;  // two blocks of modes, the second partial
        check_dense(plain, {lam({P}, seed), rn({B, L, P, 2}, seed + 1)}, dt, tol, seed + 2);
        check_dense(plain, {lam({B, L, 3}, seed + 3), rn({B, L, 3, 2}, seed + 4)}, dt, tol, seed + 5);
        check_dense(packed, {lam({P}, seed + 6), rn({B, L, P, 2}, seed + 7), starts(B, L)}, dt, tol,
                    seed + 8);
        check_dense(packed, {lam({B, L, 5}, seed + 9), rn({B, L, 5, 2}, seed + 10), starts(B, L)}, dt,
                    tol, seed + 11);
      }
}

TEST_F(DiagScanCuda, ShortAndSingleChunk) {
  auto f = [](const std::vector<Tensor>& in) { return diag_scan(in[0], in[1]); };
  for (int64_t L : {1, 5, 64, 65})
    check_dense(f, {lam({7}, uint64_t(L)), rn({3, L, 7, 2}, uint64_t(L) + 1)}, DType::f64,
                Tol{1e-10, 1e-9}, uint64_t(L) + 2);
}

}  // namespace
}  // namespace ssm::testing
