// Counter-based random numbers (Philox4x32-10, Salmon et al., SC'11).
//
// A Generator is (seed, offset). Filling n numbers reserves a block of counters starting at
// `offset`; element i of the fill uses counter offset + i / 4 and word i % 4 of that block's
// output, so the values depend only on (seed, offset, i), never on how threads split the work,
// and a CUDA kernel computing the same function gets the same numbers.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm {

struct Philox {
  uint32_t w[4];
};

SSM_HD Philox philox4x32_10(uint64_t seed, uint64_t counter) {
  uint32_t c0 = uint32_t(counter), c1 = uint32_t(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = uint32_t(seed), k1 = uint32_t(seed >> 32);
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = uint64_t(0xD2511F53u) * c0;
    uint64_t p1 = uint64_t(0xCD9E8D57u) * c2;
    uint32_t n0 = uint32_t(p1 >> 32) ^ c1 ^ k0;
    uint32_t n2 = uint32_t(p0 >> 32) ^ c3 ^ k1;
    c1 = uint32_t(p1);
    c3 = uint32_t(p0);
    c0 = n0;
    c2 = n2;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return Philox{{c0, c1, c2, c3}};
}

// Uniform in [0, 1) from 24 / 53 random bits.
SSM_HD float uniform_f32(uint32_t u) { return float(u >> 8) * (1.0f / 16777216.0f); }
SSM_HD double uniform_f64(uint32_t hi, uint32_t lo) {
  uint64_t v = (uint64_t(hi) << 21) ^ (lo >> 11);
  return double(v) * (1.0 / 9007199254740992.0);
}

struct GeneratorState {
  uint64_t seed = 0;
  uint64_t offset = 0;
};

class Generator {
 public:
  explicit Generator(uint64_t seed = 0) { state_.seed = seed; }
  void manual_seed(uint64_t seed) { state_ = {seed, 0}; }
  uint64_t seed() const { return state_.seed; }
  GeneratorState state() const { return state_; }
  void set_state(GeneratorState s) { state_ = s; }
  // Reserves `n_counters` Philox blocks and returns the first counter.
  uint64_t reserve(uint64_t n_counters) {
    uint64_t first = state_.offset;
    state_.offset += n_counters;
    return first;
  }

 private:
  GeneratorState state_;
};

// The process-wide default generator (seed 0 until manual_seed is called).
Generator& default_generator();
inline void manual_seed(uint64_t seed) { default_generator().manual_seed(seed); }

}  // namespace ssm
