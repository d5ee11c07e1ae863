// glu on CUDA: elementwise over the output, each thread reading its pair (a, b) of the input.
#include <cuda_runtime.h>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/glu_cuda.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/glu_math.h"

namespace ssm::cuda {

namespace {

template <class T>
__global__ void forward_kernel(const T* x, T* y, int64_t total, int64_t inner) {
  using S = Scalar<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / inner, a = i + o * inner;  // x index of a: o * 2 inner + (i - o inner)
    y[i] = S::store(glu_math::forward(S::load(x[a]), S::load(x[a + inner])));
  }
}

template <class T>
__global__ void backward_kernel(const T* x, const T* dy, T* dx, int64_t total, int64_t inner) {
  using S = Scalar<T>;
  using C = acc_t<T>;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / inner, a = i + o * inner;
    C da, db;
    glu_math::backward(C(S::load(x[a])), C(S::load(x[a + inner])), C(S::load(dy[i])), da, db);
    dx[a] = S::store(da);
    dx[a + inner] = S::store(db);
  }
}

}  // namespace

void glu_forward(DType dtype, const void* x, void* y, int64_t outer, int64_t inner) {
  const int64_t total = outer * inner;
  if (total == 0) return;
  SSM_DISPATCH_FLOAT(dtype, "glu", [&] {
    forward_kernel<scalar_t><<<grid_for(total), 256, 0, stream()>>>(
        static_cast<const scalar_t*>(x), static_cast<scalar_t*>(y), total, inner);
  });
  check_launch("glu: forward");
}

void glu_backward(DType dtype, const void* x, const void* dy, void* dx, int64_t outer, int64_t inner) {
  const int64_t total = outer * inner;
  if (total == 0) return;
  SSM_DISPATCH_FLOAT(dtype, "glu", [&] {
    backward_kernel<scalar_t><<<grid_for(total), 256, 0, stream()>>>(
        static_cast<const scalar_t*>(x), static_cast<const scalar_t*>(dy),
        static_cast<scalar_t*>(dx), total, inner);
  });
  check_launch("glu: backward");
}

}  // namespace ssm::cuda
