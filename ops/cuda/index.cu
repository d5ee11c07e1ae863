// CUDA gather, dtype conversion and the ordered scatter_add of ops/index.cpp.
//
// gather: one thread per output element, elements moved as bits. scatter_add: one thread per
// position outside the scattered dim, walking that dim in order, the CPU kernel's order: sums are
// bitwise the CPU's and reproducible. No float atomics are used; the price is that parallelism
// comes only from the positions outside the dim (plenty for the backward of gather/index_select
// on feature-sized rows, little for a scatter of a long vector).
#include <cuda_runtime.h>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/cuda/index_cuda.h"

namespace ssm::cuda {

namespace {

template <class E, class I>
__global__ void gather_kernel(Walk<3> w, E* out, const E* x, const I* index, int64_t step,
                              int64_t bound, int* bad) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < w.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    w.offsets(i, off);
    int64_t k = int64_t(index[off[1]]);
    if (uint64_t(k) >= uint64_t(bound)) {
      *bad = 1;
      continue;
    }
    out[off[0]] = x[off[2] + k * step];
  }
}

template <class C>
__global__ void convert_kernel(Walk<2> w, void* dst, DType dt, const void* src, DType st) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < w.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[2];
    w.offsets(i, off);
    store_as<C>(dst, off[0], dt, load_as<C>(src, off[1], st));
  }
}

template <class T>
__global__ void scatter_add_kernel(Walk<3> rest, T* acc, const void* index, DType idt,
                                   const void* src, DType sdt, int64_t steps, int64_t ostep,
                                   int64_t istep, int64_t sstep, int64_t bound, int* bad) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < rest.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t off[3];
    rest.offsets(i, off);
    T* o = acc + off[0];
    for (int64_t j = 0; j < steps; ++j) {
      int64_t k = load_index(index, off[1] + j * istep, idt);
      if (uint64_t(k) >= uint64_t(bound)) {
        *bad = 1;
        continue;
      }
      o[k * ostep] += load_as<T>(src, off[2] + j * sstep, sdt);
    }
  }
}

template <class F>
void by_size(int64_t size, const F& f) {
  switch (size) {
    case 1: f(Bits<1>{}); break;
    case 2: f(Bits<2>{}); break;
    case 4: f(Bits<4>{}); break;
    case 8: f(Bits<8>{}); break;
    case 16: f(Bits<16>{}); break;
    default: SSM_FAIL("gather: unexpected element size ", size);
  }
}

}  // namespace

bool gather(const Walk<3>& w, void* out, const void* x, const void* index, DType index_dtype,
            int64_t elem_size, int64_t step, int64_t bound, int device) {
  if (w.numel == 0) return true;
  DeviceFlag bad(device);
  by_size(elem_size, [&](auto tag) {
    using E = decltype(tag);
    if (index_dtype == DType::i32)
      gather_kernel<E, int32_t><<<grid_for(w.numel), 256, 0, ::ssm::cuda::stream()>>>(
          w, static_cast<E*>(out), static_cast<const E*>(x), static_cast<const int32_t*>(index),
          step, bound, bad.p);
    else
      gather_kernel<E, int64_t><<<grid_for(w.numel), 256, 0, ::ssm::cuda::stream()>>>(
          w, static_cast<E*>(out), static_cast<const E*>(x), static_cast<const int64_t*>(index),
          step, bound, bad.p);
  });
  check_launch("gather");
  return !bad.read();
}

void convert(const Walk<2>& w, void* dst, DType dst_dtype, const void* src, DType src_dtype,
             int) {
  if (w.numel == 0) return;
  if (is_floating(dst_dtype))
    convert_kernel<double><<<grid_for(w.numel), 256, 0, ::ssm::cuda::stream()>>>(w, dst, dst_dtype, src, src_dtype);
  else
    convert_kernel<int64_t><<<grid_for(w.numel), 256, 0, ::ssm::cuda::stream()>>>(w, dst, dst_dtype, src, src_dtype);
  check_launch("scatter_add (dtype conversion)");
}

bool scatter_add(const Walk<3>& rest, void* acc, DType acc_dtype, const void* index,
                 DType index_dtype, const void* src, DType src_dtype, int64_t steps, int64_t ostep,
                 int64_t istep, int64_t sstep, int64_t bound, int device) {
  if (rest.numel == 0 || steps == 0) return true;
  DeviceFlag bad(device);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    scatter_add_kernel<T><<<grid_for(rest.numel, 128), 128, 0, ::ssm::cuda::stream()>>>(rest, static_cast<T*>(acc), index,
                                                              index_dtype, src, src_dtype, steps,
                                                              ostep, istep, sstep, bound, bad.p);
  };
  switch (acc_dtype) {
    case DType::f32: run(float{}); break;
    case DType::f64: run(double{}); break;
    case DType::i32: run(int32_t{}); break;
    case DType::i64: run(int64_t{}); break;
    default: SSM_FAIL("scatter_add: no CUDA kernel for an accumulator of dtype ", acc_dtype);
  }
  check_launch("scatter_add");
  return !bad.read();
}

}  // namespace ssm::cuda
