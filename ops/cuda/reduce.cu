// CUDA backward kernels of the reductions (ops/reduce.cpp).
#include <cmath>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/elementwise_engine.cuh"
#include "ops/cuda/reduce_cuda.h"

namespace ssm::cuda {

namespace {

struct Perm {
  int64_t sizes[kDims], strides[kDims], perm[kDims];
};

template <class T>
__global__ void scatter_kernel(Perm q, int nd, int nkept, int64_t A, T* dx, const T* g,
                               const int64_t* idx) {
  int64_t a = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (a >= A) return;
  int64_t off = 0, ra = a, rr = idx[a];
  for (int j = nd - 1; j >= 0; --j) {
    int d = int(q.perm[j]);
    int64_t& rem = j < nkept ? ra : rr;
    off += (rem % q.sizes[d]) * q.strides[d];
    rem /= q.sizes[d];
  }
  dx[off] = g[a];
}

struct VarGrad {
  double scale;
  template <class A>
  SSM_HD A operator()(A x, A m, A g) const {
    return A(scale) * (x - m) * g;
  }
};
struct LseGrad {
  template <class A>
  SSM_HD A operator()(A x, A l, A g) const {
    using std::exp;
    return g * exp(x - l);
  }
};

}  // namespace

void scatter_rows(const Dims& x_dims, const int64_t* perm, int nkept, int64_t A, void* dx,
                  const void* g, const int64_t* idx, DType dtype) {
  if (A == 0) return;
  Perm q;
  int64_t st = 1;
  for (int d = x_dims.ndim - 1; d >= 0; --d) {
    q.sizes[d] = x_dims.sizes[d];
    q.strides[d] = st;
    st *= x_dims.sizes[d];
  }
  for (int d = 0; d < x_dims.ndim; ++d) q.perm[d] = perm[d];
  SSM_DISPATCH_FLOAT(dtype, "backward", [&] {
    scatter_kernel<scalar_t><<<unsigned((A + 255) / 256), 256, 0, ::ssm::cuda::stream()>>>(
        q, x_dims.ndim, nkept, A, static_cast<scalar_t*>(dx), static_cast<const scalar_t*>(g), idx);
  });
  check_launch("max/min backward");
}

void reduce_backward(ReduceGrad kind, double scale, const Dims& dims, const Arg& dx, const Arg& x,
                     const Arg& s, const Arg& g) {
  SSM_DISPATCH_FLOAT(x.dtype, "backward", [&] {
    using Acc = acc_t<scalar_t>;
    if (kind == ReduceGrad::var)
      elementwise<scalar_t, scalar_t, Acc, scalar_t>(dims, dx, {&x, &s, &g}, VarGrad{scale},
                                                     "var backward");
    else
      elementwise<scalar_t, scalar_t, Acc, scalar_t>(dims, dx, {&x, &s, &g}, LseGrad{},
                                                     "logsumexp backward");
  });
}

}  // namespace ssm::cuda
