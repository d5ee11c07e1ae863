// CUDA flip: the strided copy of a view whose flipped dims have negated strides.
#include <cuda_runtime.h>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/cuda/flip_cuda.h"

namespace ssm::cuda {

namespace {

template <class E>
__global__ void copy_kernel(Walk<2> w, E* dst, const E* src) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < w.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    w.offsets(i, off);
    dst[off[0]] = src[off[1]];
  }
}

}  // namespace

void flip_copy(const Walk<2>& w, void* dst, const void* src, int64_t elem_size, int) {
  if (w.numel == 0) return;
  auto launch = [&](auto tag) {
    using E = decltype(tag);
    copy_kernel<E><<<grid_for(w.numel), 256, 0, ::ssm::cuda::stream()>>>(w, static_cast<E*>(dst), static_cast<const E*>(src));
  };
  switch (elem_size) {
    case 1: launch(Bits<1>{}); break;
    case 2: launch(Bits<2>{}); break;
    case 4: launch(Bits<4>{}); break;
    case 8: launch(Bits<8>{}); break;
    case 16: launch(Bits<16>{}); break;
    default: SSM_FAIL("flip: unexpected element size ", elem_size);
  }
  check_launch("flip");
}

}  // namespace ssm::cuda
