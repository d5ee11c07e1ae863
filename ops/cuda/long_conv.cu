// long_conv on CUDA: the block program of ops/long_conv_block.h run by a thread block per row,
// plus the batch-chunk sum of the backward. Launch shapes and scratch: ops/cuda/long_conv_cuda.h.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/long_conv_cuda.h"
#include "ops/long_conv_block.h"

namespace ssm::cuda {

namespace lcb = long_conv_block;

namespace {

// The block as long_conv_block's Team: a phase is one pass of every thread, then a barrier.
struct DeviceTeam {
  int tid, nt;
  template <class F>
  __device__ void each(F&& f) {
    f(tid, nt);
    __syncthreads();
  }
  // red[0 .. nt) summed by warp 0 in a fixed order; the result is exact in thread 0.
  template <class T>
  __device__ T sum(const T* red) {
    T v = T(0);
    if (tid < 32) {
      for (int i = tid; i < nt; i += 32) v += red[i];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    }
    __syncthreads();
    return v;
  }
};

int log2_of(int64_t m) {
  int r = 0;
  while ((int64_t(1) << r) < m) ++r;
  return r;
}

template <class T>
lcb::Row<T> row_args(const LongConvLaunch& a) {
  lcb::Row<T> r;
  r.u = static_cast<const T*>(a.u);
  r.Kf = static_cast<const lcb::Cx<T>*>(a.Kf);
  r.D = static_cast<const T*>(a.D);
  r.B = a.B;
  r.L = a.L;
  r.H = a.H;
  r.m = int(a.n / 2);
  r.logm = log2_of(r.m);
  r.gelu = a.gelu;
  return r;
}

template <class T>
__global__ void __launch_bounds__(1024) forward_kernel(lcb::Row<T> r) {
  extern __shared__ __align__(16) unsigned char smem[];
  lcb::Smem<T> s = lcb::carve<T>(smem, r.m);
  DeviceTeam team{int(threadIdx.x), int(blockDim.x)};
  lcb::make_twiddles(team, s, r.m);
  for (int64_t row = blockIdx.x; row < r.B * r.H; row += gridDim.x)
    lcb::forward_row(team, s, r, row / r.H, row % r.H);
}

template <class T>
__global__ void __launch_bounds__(1024)
    backward_kernel(lcb::Row<T> r, int64_t per_chunk, lcb::Cx<T>* keep, lcb::Cx<T>* part, T* dpart) {
  extern __shared__ __align__(16) unsigned char smem[];
  lcb::Smem<T> s = lcb::carve<T>(smem, r.m);
  DeviceTeam team{int(threadIdx.x), int(blockDim.x)};
  lcb::make_twiddles(team, s, r.m);
  const int64_t blk = blockIdx.x, c = blk / r.H, h = blk % r.H;
  const int64_t b0 = c * per_chunk, b1 = b0 + per_chunk < r.B ? b0 + per_chunk : r.B;
  const int64_t F = r.m + 1;
  T ds = lcb::backward_rows(team, s, r, b0, b1, h, keep + blk * F, part + blk * F);
  if (threadIdx.x == 0) dpart[blk] = ds;
}

// dKf[h, f] = sum_c part[c, h, f] (when part is not dKf), dD[h] = sum_c dpart[c, h]; in order.
template <class T>
__global__ void sum_chunks_kernel(const lcb::Cx<T>* part, lcb::Cx<T>* dKf, const T* dpart, T* dD,
                                  int64_t chunks, int64_t H, int64_t F) {
  const int64_t HF = H * F;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < HF + H;
       i += int64_t(gridDim.x) * blockDim.x) {
    if (i < HF) {
      if (part == dKf) continue;
      lcb::Cx<T> v = part[i];
      for (int64_t c = 1; c < chunks; ++c) v = v + part[c * HF + i];
      dKf[i] = v;
    } else if (dD) {
      const int64_t h = i - HF;
      T v = dpart[h];
      for (int64_t c = 1; c < chunks; ++c) v += dpart[c * H + h];
      dD[h] = v;
    }
  }
}

struct Shape {
  int m, threads;
  int64_t smem;
};

template <class T>
Shape shape_for(const LongConvLaunch& a) {
  Shape s;
  s.m = int(a.n / 2);
  s.threads = lcb::threads_for(s.m);
  s.smem = lcb::smem_bytes<T>(s.m, s.threads);
  return s;
}

template <class K>
int resident_blocks(K kernel, const Shape& s, const char* what) {
  SSM_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(s.smem)) ==
                cudaSuccess,
            what, ": cannot give a block ", s.smem, " bytes of shared memory");
  int per_sm = 0, sms = 0, dev = 0;
  cudaGetDevice(&dev);
  cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, s.threads, size_t(s.smem));
  SSM_CHECK(per_sm > 0, what, ": a block of ", s.threads, " threads and ", s.smem,
            " bytes of shared memory does not fit on this GPU");
  return per_sm * sms;
}

template <class T>
void forward_t(const LongConvLaunch& a, void* y) {
  lcb::Row<T> r = row_args<T>(a);
  r.y = static_cast<T*>(y);
  Shape s = shape_for<T>(a);
  const int64_t rows = a.B * a.H;
  if (rows == 0) return;
  const int64_t grid = std::min<int64_t>(rows, resident_blocks(forward_kernel<T>, s, "long_conv"));
  forward_kernel<T><<<unsigned(grid), s.threads, size_t(s.smem), stream()>>>(r);
  check_launch("long_conv: forward");
}

template <class T>
void backward_t(const LongConvLaunch& a, const void* dy, void* du, void* dKf, void* dD,
                int64_t chunks, void* keep, void* part, void* dpart) {
  lcb::Row<T> r = row_args<T>(a);
  r.dy = static_cast<const T*>(dy);
  r.du = static_cast<T*>(du);
  Shape s = shape_for<T>(a);
  resident_blocks(backward_kernel<T>, s, "long_conv");
  const int64_t per_chunk = (a.B + chunks - 1) / chunks, F = a.n / 2 + 1;
  backward_kernel<T><<<unsigned(chunks * a.H), s.threads, size_t(s.smem), stream()>>>(
      r, per_chunk, static_cast<lcb::Cx<T>*>(keep), static_cast<lcb::Cx<T>*>(part),
      static_cast<T*>(dpart));
  check_launch("long_conv: backward");
  const int64_t total = a.H * F + a.H;
  sum_chunks_kernel<T><<<unsigned(std::min<int64_t>((total + 255) / 256, 4096)), 256, 0, stream()>>>(
      static_cast<const lcb::Cx<T>*>(part), static_cast<lcb::Cx<T>*>(dKf),
      static_cast<const T*>(dpart), static_cast<T*>(dD), chunks, a.H, F);
  check_launch("long_conv: chunk sum");
}

}  // namespace

int64_t long_conv_size(DType dtype, int64_t need) {
  int64_t n = 64;
  while (n < need) n *= 2;
  const int64_t max_m = dtype == DType::f64 ? lcb::kMaxPoints<double> : lcb::kMaxPoints<float>;
  return n / 2 <= max_m ? n : 0;
}

int64_t long_conv_backward_chunks(const LongConvLaunch& a) {
  SSM_CHECK(cudaSetDevice(a.device) == cudaSuccess, "long_conv: cannot select cuda:", a.device);
  const int resident = a.dtype == DType::f64
                           ? resident_blocks(backward_kernel<double>, shape_for<double>(a), "long_conv")
                           : resident_blocks(backward_kernel<float>, shape_for<float>(a), "long_conv");
  // Enough blocks to fill the GPU, but never an empty chunk.
  int64_t chunks = std::clamp<int64_t>((resident + a.H - 1) / std::max<int64_t>(a.H, 1), 1,
                                       std::max<int64_t>(a.B, 1));
  const int64_t per_chunk = (std::max<int64_t>(a.B, 1) + chunks - 1) / chunks;
  return (std::max<int64_t>(a.B, 1) + per_chunk - 1) / per_chunk;
}

void long_conv_forward(const LongConvLaunch& a, void* y) {
  SSM_CHECK(cudaSetDevice(a.device) == cudaSuccess, "long_conv: cannot select cuda:", a.device);
  if (a.dtype == DType::f64)
    forward_t<double>(a, y);
  else
    forward_t<float>(a, y);
}

void long_conv_backward(const LongConvLaunch& a, const void* dy, void* du, void* dKf, void* dD,
                        int64_t chunks, void* keep, void* part, void* dpart) {
  SSM_CHECK(cudaSetDevice(a.device) == cudaSuccess, "long_conv: cannot select cuda:", a.device);
  if (a.B == 0 || a.H == 0) return;
  if (a.dtype == DType::f64)
    backward_t<double>(a, dy, du, dKf, dD, chunks, keep, part, dpart);
  else
    backward_t<float>(a, dy, du, dKf, dD, chunks, keep, part, dpart);
}

}  // namespace ssm::cuda
