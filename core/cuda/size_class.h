// The size classes of the CUDA caching allocators (device: allocator.cu, pinned host: pinned.cu).
#pragma once

#include <cstddef>

namespace ssm::cuda {

// Multiples of 512 bytes below 1 MiB, above that 8 classes per power of two (at most 12.5%
// slack), so a block freed at one size serves nearby sizes too.
inline size_t size_class(size_t n) {
  constexpr size_t kSmall = size_t(1) << 20;
  if (n < kSmall) return (n + 511) / 512 * 512;
  size_t p = kSmall;
  while (p * 2 <= n) p *= 2;
  size_t step = p / 8;
  return (n + step - 1) / step * step;
}

}  // namespace ssm::cuda
