// Seeded shuffles that give the same result on every machine, compiler and thread count: Philox
// numbers (core/rng.h) and a Fisher-Yates shuffle written out, no std:: distributions.
#pragma once

#include <cstdint>
#include <vector>

namespace ssm::data {

// A permutation of 0..n-1 determined by (seed, stream); different streams of one seed give
// independent permutations. n < 2^32 and stream < 2^31.
std::vector<int64_t> random_permutation(int64_t n, uint64_t seed, uint64_t stream = 0);

// A seed for a sub-task (an epoch, a worker) derived from `seed`: derive_seed(s, a) for distinct
// `a` are independent seeds.
uint64_t derive_seed(uint64_t seed, uint64_t a);

}  // namespace ssm::data
