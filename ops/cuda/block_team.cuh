// The CUDA team of ops/small_linalg.h: the threads of one block share a matrix, for_each strides
// over them and sync is a block barrier. Its members are host-device so that the host pass of a
// host-device algorithm instantiated with it compiles; they only run on the device.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace ssm::cuda {

struct BlockTeam {
  template <class F>
  __host__ __device__ __forceinline__ void for_each(int64_t count, const F& f) const {
#ifdef __CUDA_ARCH__
    for (int64_t i = threadIdx.x; i < count; i += blockDim.x) f(i);
#endif
  }
  __host__ __device__ __forceinline__ void sync() const {
#ifdef __CUDA_ARCH__
    __syncthreads();
#endif
  }
  __host__ __device__ __forceinline__ bool leader() const {
#ifdef __CUDA_ARCH__
    return threadIdx.x == 0;
#else
    return true;
#endif
  }
};

// Threads per block for a matrix of size n: enough for the n² elements of a product, a multiple
// of a warp, at most 256.
inline int team_threads(int64_t n) {
  int64_t t = (n * n + 31) / 32 * 32;
  return int(t < 32 ? 32 : t > 256 ? 256 : t);
}

}  // namespace ssm::cuda
