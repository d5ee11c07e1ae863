// CUDA pad: one thread per output element, mapped to its input element (or the fill value)
// through the same per-dim coordinate map as the CPU (source_of in ops/pad.cpp).
#include <cuda_runtime.h>

#include <cstring>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/cuda/pad_cuda.h"
#include "ops/cuda/walk.h"

namespace ssm::cuda {

namespace {

__device__ __forceinline__ int64_t source_of(int64_t o, int64_t n, int64_t left, int mode) {
  int64_t i = o - left;
  if (i >= 0 && i < n) return i;
  if (mode == 1) return i < 0 ? -i : 2 * (n - 1) - i;
  if (mode == 2) return i < 0 ? 0 : n - 1;
  return -1;
}

template <class E>
__global__ void pad_kernel(PadArg a, E* out, const E* x, E fill) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < a.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, off = 0;
    bool inside = true;
    for (int k = a.ndim - 1; k >= 0; --k) {
      int64_t o = rem % a.out_size[k];
      rem /= a.out_size[k];
      int64_t s = source_of(o, a.in_size[k], a.left[k], a.mode);
      inside = inside && s >= 0;
      off += s * a.in_stride[k];
    }
    out[i] = inside ? x[off] : fill;
  }
}

}  // namespace

void pad(const PadArg& a, void* out, const void* x, const void* fill, int64_t elem_size, int) {
  if (a.numel == 0) return;
  auto launch = [&](auto tag) {
    using E = decltype(tag);
    E f;
    std::memcpy(&f, fill, sizeof(E));
    pad_kernel<E><<<grid_for(a.numel), 256, 0, ::ssm::cuda::stream()>>>(a, static_cast<E*>(out), static_cast<const E*>(x), f);
  };
  switch (elem_size) {
    case 1: launch(Bits<1>{}); break;
    case 2: launch(Bits<2>{}); break;
    case 4: launch(Bits<4>{}); break;
    case 8: launch(Bits<8>{}); break;
    case 16: launch(Bits<16>{}); break;
    default: SSM_FAIL("pad: unexpected element size ", elem_size);
  }
  check_launch("pad");
}

}  // namespace ssm::cuda
