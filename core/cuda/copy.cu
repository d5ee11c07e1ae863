// CUDA copies and fills: one strided kernel over the coalesced layout (see core/cuda/strided.h),
// a flat kernel when every operand is one unit-stride run, 32-bit index maths when it fits.
#include <cuda_runtime.h>

#include <cstring>

#include "core/convert.h"
#include "core/cuda/copy.h"
#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocks = int64_t(1) << 20;  // the rest is a grid-stride loop

template <int B>
struct alignas(B) Bits {
  unsigned char b[B];
};

unsigned grid_for(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  return unsigned(b < 1 ? 1 : (b > kMaxBlocks ? kMaxBlocks : b));
}

template <class D, class S, class I>
__global__ void copy_strided(Layout<2> L, I n, D* __restrict__ dst, const S* __restrict__ src) {
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    int64_t off[2];
    offsets_of<I, 2>(L, i, off);
    dst[off[0]] = convert<D, S>(src[off[1]]);
  }
}

template <class D, class S>
__global__ void copy_flat(int64_t n, D* __restrict__ dst, const S* __restrict__ src) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = convert<D, S>(src[i]);
}

template <class T, class I>
__global__ void add_strided(Layout<3> L, I n, T* __restrict__ dst, const T* __restrict__ a,
                            const T* __restrict__ b) {
  using S = Scalar<T>;
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    int64_t off[3];
    offsets_of<I, 3>(L, i, off);
    dst[off[0]] = S::store(S::load(a[off[1]]) + S::load(b[off[2]]));
  }
}

template <class T>
__global__ void add_flat(int64_t n, T* __restrict__ dst, const T* __restrict__ a,
                         const T* __restrict__ b) {
  using S = Scalar<T>;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x)
    dst[i] = S::store(S::load(a[i]) + S::load(b[i]));
}

template <class E, class I>
__global__ void fill_strided(Layout<1> L, I n, E* __restrict__ dst, E v) {
  for (I i = I(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += I(gridDim.x) * blockDim.x) {
    int64_t off[1];
    offsets_of<I, 1>(L, i, off);
    dst[off[0]] = v;
  }
}

template <class D, class S>
void launch_copy(const Layout<2>& L, int64_t n, void* dst, const void* src) {
  D* d = static_cast<D*>(dst);
  const S* s = static_cast<const S*>(src);
  if (L.flat())
    copy_flat<D, S><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(n, d, s);
  else if (n <= INT32_MAX)
    copy_strided<D, S, uint32_t><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(L, uint32_t(n), d, s);
  else
    copy_strided<D, S, int64_t><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(L, n, d, s);
  check_launch("copy_");
}

template <class E>
void launch_fill(const Layout<1>& L, int64_t n, void* dst, E v) {
  E* d = static_cast<E*>(dst);
  if (n <= INT32_MAX)
    fill_strided<E, uint32_t><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(L, uint32_t(n), d, v);
  else
    fill_strided<E, int64_t><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(L, n, d, v);
  check_launch("fill_");
}

template <class E>
E bits_of(const void* p) {
  E e;
  std::memcpy(&e, p, sizeof(E));
  return e;
}

}  // namespace

void copy(const Dims& dims, const Arg& dst, const Arg& src) {
  int64_t n = dims.numel();
  if (n == 0) return;
  const Arg* args[2] = {&dst, &src};
  Layout<2> L = coalesce<2>(dims, args);
  if (dst.dtype == src.dtype) {
    size_t es = size_t(dtype_size(dst.dtype));
    if (L.flat()) {
      SSM_CHECK(cudaMemcpyAsync(dst.p, src.p, size_t(n) * es, cudaMemcpyDeviceToDevice, ::ssm::cuda::stream()) ==
                    cudaSuccess,
                "copy_: cudaMemcpyAsync failed");
      return;
    }
    switch (es) {
      case 1: launch_copy<Bits<1>, Bits<1>>(L, n, dst.p, src.p); break;
      case 2: launch_copy<Bits<2>, Bits<2>>(L, n, dst.p, src.p); break;
      case 4: launch_copy<Bits<4>, Bits<4>>(L, n, dst.p, src.p); break;
      case 8: launch_copy<Bits<8>, Bits<8>>(L, n, dst.p, src.p); break;
      default: launch_copy<Bits<16>, Bits<16>>(L, n, dst.p, src.p); break;
    }
    return;
  }
  SSM_CHECK(!is_complex(dst.dtype) && !is_complex(src.dtype),
            "copy_: converting between ", src.dtype, " and ", dst.dtype,
            " on CUDA goes through view_as_real()");
  SSM_DISPATCH_ALL(dst.dtype, "copy_", [&] {
    using D = scalar_t;
    SSM_DISPATCH_ALL(src.dtype, "copy_", [&] { launch_copy<D, scalar_t>(L, n, dst.p, src.p); });
  });
}

void add(const Dims& dims, const Arg& dst, const Arg& a, const Arg& b) {
  int64_t n = dims.numel();
  if (n == 0) return;
  SSM_CHECK(is_floating(dst.dtype) && a.dtype == dst.dtype && b.dtype == dst.dtype,
            "gradient add: expects three tensors of one floating dtype, got ", dst.dtype, ", ",
            a.dtype, " and ", b.dtype);
  const Arg* args[3] = {&dst, &a, &b};
  Layout<3> L = coalesce<3>(dims, args);
  SSM_DISPATCH_FLOAT(dst.dtype, "gradient add", [&] {
    using T = scalar_t;
    T* d = static_cast<T*>(dst.p);
    const T* pa = static_cast<const T*>(a.p);
    const T* pb = static_cast<const T*>(b.p);
    if (L.flat())
      add_flat<T><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(n, d, pa, pb);
    else if (n <= INT32_MAX)
      add_strided<T, uint32_t><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(L, uint32_t(n), d, pa, pb);
    else
      add_strided<T, int64_t><<<grid_for(n), kThreads, 0, ::ssm::cuda::stream()>>>(L, n, d, pa, pb);
  });
  check_launch("gradient add");
}

void fill(const Dims& dims, const Arg& dst, double value) {
  int64_t n = dims.numel();
  if (n == 0) return;
  const Arg* args[1] = {&dst};
  Layout<1> L = coalesce<1>(dims, args);
  if (is_complex(dst.dtype)) {
    if (dst.dtype == DType::c64) {
      float v[2] = {float(value), 0.0f};
      launch_fill(L, n, dst.p, bits_of<Bits<8>>(v));
    } else {
      double v[2] = {value, 0.0};
      launch_fill(L, n, dst.p, bits_of<Bits<16>>(v));
    }
    return;
  }
  SSM_DISPATCH_ALL(dst.dtype, "fill_", [&] {
    scalar_t v = convert<scalar_t, double>(value);
    switch (sizeof(scalar_t)) {
      case 1: launch_fill(L, n, dst.p, bits_of<Bits<1>>(&v)); break;
      case 2: launch_fill(L, n, dst.p, bits_of<Bits<2>>(&v)); break;
      case 4: launch_fill(L, n, dst.p, bits_of<Bits<4>>(&v)); break;
      default: launch_fill(L, n, dst.p, bits_of<Bits<8>>(&v)); break;
    }
  });
}

}  // namespace ssm::cuda
