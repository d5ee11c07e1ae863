// CUDA dropout: one thread per Philox block of 4 elements (one philox4x32_10 call per thread).
#include <cuda_runtime.h>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/cuda/dropout_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

template <class T>
__global__ void dropout_kernel(Walk<2> w, T* out, const T* in, double p, acc_t<T> scale,
                               uint64_t seed, uint64_t base) {
  using S = Scalar<T>;
  int64_t blocks = (w.numel + 3) / 4;
  for (int64_t blk = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; blk < blocks;
       blk += int64_t(gridDim.x) * blockDim.x) {
    Philox r = philox4x32_10(seed, base + uint64_t(blk));
    int64_t i0 = blk * 4;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      if (i0 + j >= w.numel) break;
      int64_t off[2];
      w.offsets(i0 + j, off);
      bool keep = double(uniform_f32(r.w[j])) >= p;
      out[off[0]] = S::store(keep ? S::load(in[off[1]]) * scale : acc_t<T>(0));
    }
  }
}

}  // namespace

void dropout(const Walk<2>& w, void* out, const void* in, DType dtype, double p, double scale,
             uint64_t seed, uint64_t base, int) {
  if (w.numel == 0) return;
  int64_t blocks = (w.numel + 3) / 4;
  SSM_DISPATCH_FLOAT(dtype, "dropout", [&] {
    using A = acc_t<scalar_t>;
    dropout_kernel<scalar_t><<<grid_for(blocks), 256, 0, ::ssm::cuda::stream()>>>(w, static_cast<scalar_t*>(out),
                                                        static_cast<const scalar_t*>(in), p,
                                                        A(scale), seed, base);
  });
  check_launch("dropout");
}

}  // namespace ssm::cuda
