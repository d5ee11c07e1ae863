// CUDA cumsum: one thread per position outside the summed dim, walking it in order. Neighbouring
// threads take neighbouring positions, so when the dim is not the innermost one a warp's loads
// are coalesced.
#include <cuda_runtime.h>

#include <type_traits>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/cumsum_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

template <class A>
__global__ void cumsum_kernel(Walk<2> rest, const void* x, DType xdt, void* out, DType odt,
                              int64_t len, int64_t xstep, int64_t ostep, bool reverse) {
  using L = std::conditional_t<std::is_same_v<A, double>, double, int64_t>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rest.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    rest.offsets(i, off);
    A acc = A(0);
    for (int64_t s = 0; s < len; ++s) {
      int64_t l = reverse ? len - 1 - s : s;
      acc += A(load_as<L>(x, off[0] + l * xstep, xdt));
      store_as<L>(out, off[1] + l * ostep, odt, L(acc));
    }
  }
}

}  // namespace

void cumsum(const Walk<2>& rest, const void* x, DType x_dtype, void* out, DType out_dtype,
            int64_t len, int64_t xstep, int64_t ostep, bool reverse, int) {
  if (rest.numel == 0 || len == 0) return;
  if (is_floating(x_dtype))
    cumsum_kernel<double><<<grid_for(rest.numel, 128), 128, 0, ::ssm::cuda::stream()>>>(rest, x, x_dtype, out, out_dtype,
                                                              len, xstep, ostep, reverse);
  else
    cumsum_kernel<uint64_t><<<grid_for(rest.numel, 128), 128, 0, ::ssm::cuda::stream()>>>(rest, x, x_dtype, out, out_dtype,
                                                                len, xstep, ostep, reverse);
  check_launch("cumsum");
}

}  // namespace ssm::cuda
