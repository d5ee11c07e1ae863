#include "data/shuffle.h"

#include "core/error.h"
#include "core/rng.h"

namespace ssm::data {

std::vector<int64_t> random_permutation(int64_t n, uint64_t seed, uint64_t stream) {
  SSM_CHECK(n >= 0 && n < (int64_t(1) << 32), "random_permutation: n = ", n,
            " must be in [0, 2^32)");
  SSM_CHECK(stream < (uint64_t(1) << 31), "random_permutation: stream ", stream,
            " must be < 2^31");
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[size_t(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    Philox r = philox4x32_10(seed, (stream << 32) | uint64_t(i));
    uint64_t u = uint64_t(r.w[0]) << 32 | r.w[1];
    // The modulo's bias is below n / 2^64: invisible.
    int64_t j = int64_t(u % uint64_t(i + 1));
    std::swap(p[size_t(i)], p[size_t(j)]);
  }
  return p;
}

uint64_t derive_seed(uint64_t seed, uint64_t a) {
  // Counters in the top half of the space, which random_permutation never uses.
  Philox r = philox4x32_10(seed, a | (uint64_t(1) << 63));
  return uint64_t(r.w[0]) << 32 | r.w[1];
}

}  // namespace ssm::data
