// layer_norm / rms_norm on CUDA: one block per row (statistics by block reduction, fp32 for
// 16-bit inputs), and the weight / bias gradients as per-row-block partial sums followed by a
// second pass that adds the blocks in order, so results are bitwise reproducible.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/norm_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;

// Sum over the block (kThreads threads); every thread gets the result.
template <class A>
__device__ A block_sum(A v, A* sm) {
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // sm may still be read by a previous call
  if (lane == 0) sm[warp] = v;
  __syncthreads();
  A s = 0;
  for (int k = 0; k < kThreads / 32; ++k) s += sm[k];
  return s;
}

template <class T>
__global__ void forward_kernel(NormProblem p, T* y, acc_t<T>* mean, acc_t<T>* rstd) {
  using A = acc_t<T>;
  __shared__ A sm[kThreads / 32];
  int64_t r = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(r);
  const T* w = static_cast<const T*>(p.w);
  const T* b = static_cast<const T*>(p.b);
  A mu = 0;
  if (!p.rms) {
    A s = 0;
    for (int64_t d = threadIdx.x; d < p.D; d += kThreads) s += ld_t<T>(x, d * p.sd);
    mu = block_sum(s, sm) / A(p.D);
  }
  A s2 = 0;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A v = ld_t<T>(x, d * p.sd) - mu;
    s2 += v * v;
  }
  A var = block_sum(s2, sm) / A(p.D);
  A rs = A(1) / sqrt(var + A(p.eps));
  if (threadIdx.x == 0) {
    if (mean) mean[r] = mu;
    rstd[r] = rs;
  }
  T* yr = y + r * p.D;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A v = (ld_t<T>(x, d * p.sd) - mu) * rs;
    if (w) v *= ld_t<T>(w, d * p.ws);
    if (b) v += ld_t<T>(b, d * p.bs);
    st_t<T>(yr, d, v);
  }
}

// dx = rstd (h - [mean(h)] - xhat mean(h xhat)), h = g w, xhat = (x - mean) rstd.
template <class T>
__global__ void backward_dx_kernel(NormProblem p, const T* g, NdIndex grows, int64_t gsd,
                                   const acc_t<T>* mean, const acc_t<T>* rstd, T* dx) {
  using A = acc_t<T>;
  __shared__ A sm[kThreads / 32];
  int64_t r = blockIdx.x;
  const T* x = static_cast<const T*>(p.x) + p.rows.offset(r);
  const T* gr = g + grows.offset(r);
  const T* w = static_cast<const T*>(p.w);
  A mu = p.rms ? A(0) : mean[r], rs = rstd[r];
  A sh = 0, shx = 0;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A h = ld_t<T>(gr, d * gsd);
    if (w) h *= ld_t<T>(w, d * p.ws);
    sh += h;
    shx += h * (ld_t<T>(x, d * p.sd) - mu) * rs;
  }
  A c1 = p.rms ? A(0) : block_sum(sh, sm) / A(p.D);
  A c2 = block_sum(shx, sm) / A(p.D);
  T* dxr = dx + r * p.D;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) {
    A h = ld_t<T>(gr, d * gsd);
    if (w) h *= ld_t<T>(w, d * p.ws);
    A xh = (ld_t<T>(x, d * p.sd) - mu) * rs;
    st_t<T>(dxr, d, rs * (h - c1 - xh * c2));
  }
}

// part[chunk, 0, d] = sum_rows g xhat, part[chunk, 1, d] = sum_rows g over the chunk's rows;
// block (32, 8) covers 32 columns.
template <class T>
__global__ void backward_param_partial(NormProblem p, const T* g, NdIndex grows, int64_t gsd,
                                       const acc_t<T>* mean, const acc_t<T>* rstd, acc_t<T>* part,
                                       int64_t rows_per) {
  using A = acc_t<T>;
  __shared__ A sw[8][33], sb[8][33];
  int64_t d = int64_t(blockIdx.x) * 32 + threadIdx.x;
  int64_t r0 = int64_t(blockIdx.y) * rows_per, r1 = min(p.R, r0 + rows_per);
  A aw = 0, ab = 0;
  if (d < p.D)
    for (int64_t r = r0 + threadIdx.y; r < r1; r += 8) {
      const T* x = static_cast<const T*>(p.x) + p.rows.offset(r);
      A gv = ld_t<T>(g + grows.offset(r), d * gsd);
      A mu = p.rms ? A(0) : mean[r];
      aw += gv * (ld_t<T>(x, d * p.sd) - mu) * rstd[r];
      ab += gv;
    }
  sw[threadIdx.y][threadIdx.x] = aw;
  sb[threadIdx.y][threadIdx.x] = ab;
  __syncthreads();
  if (threadIdx.y == 0 && d < p.D) {
    for (int k = 1; k < 8; ++k) {
      aw += sw[k][threadIdx.x];
      ab += sb[k][threadIdx.x];
    }
    part[(int64_t(blockIdx.y) * 2) * p.D + d] = aw;
    part[(int64_t(blockIdx.y) * 2 + 1) * p.D + d] = ab;
  }
}

template <class T>
__global__ void backward_param_final(const acc_t<T>* part, int64_t nchunk, int64_t D, T* dw, T* db) {
  using A = acc_t<T>;
  int64_t d = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (d >= D) return;
  A aw = 0, ab = 0;
  for (int64_t k = 0; k < nchunk; ++k) {
    aw += part[(k * 2) * D + d];
    ab += part[(k * 2 + 1) * D + d];
  }
  if (dw) st_t<T>(dw, d, aw);
  if (db) st_t<T>(db, d, ab);
}

}  // namespace

void norm_forward(const NormProblem& p, void* y, void* mean, void* rstd) {
  if (p.R == 0) return;
  SSM_CHECK(p.R <= INT32_MAX, p.rms ? "rms_norm" : "layer_norm", ": ", p.R, " rows exceed the CUDA grid");
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using A = acc_t<scalar_t>;
    forward_kernel<scalar_t><<<unsigned(p.R), kThreads, 0, ::ssm::cuda::stream()>>>(p, static_cast<scalar_t*>(y),
                                                           static_cast<A*>(mean), static_cast<A*>(rstd));
  });
  check_launch(p.rms ? "rms_norm" : "layer_norm");
}

void norm_backward(const NormProblem& p, const void* g, const NdIndex& grows, int64_t gsd,
                   const void* mean, const void* rstd, void* dx, void* dw, void* db) {
  const char* op = p.rms ? "rms_norm backward" : "layer_norm backward";
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    using A = acc_t<scalar_t>;
    const scalar_t* gp = static_cast<const scalar_t*>(g);
    const A* mp = static_cast<const A*>(mean);
    const A* rp = static_cast<const A*>(rstd);
    if (dx && p.R > 0)
      backward_dx_kernel<scalar_t><<<unsigned(p.R), kThreads, 0, ::ssm::cuda::stream()>>>(p, gp, grows, gsd, mp, rp,
                                                               static_cast<scalar_t*>(dx));
    if ((dw || db) && p.D > 0) {
      // Row blocks depend only on R.
      int64_t nchunk = p.R == 0 ? 1 : std::min<int64_t>((p.R + 31) / 32, 512);
      int64_t rows_per = p.R == 0 ? 1 : (p.R + nchunk - 1) / nchunk;
      nchunk = p.R == 0 ? 1 : (p.R + rows_per - 1) / rows_per;
      A* part = static_cast<A*>(alloc(size_t(nchunk * 2 * p.D) * sizeof(A), p.device));
      dim3 grid(unsigned((p.D + 31) / 32), unsigned(nchunk));
      if (p.R > 0)
        backward_param_partial<scalar_t><<<grid, dim3(32, 8), 0, ::ssm::cuda::stream()>>>(p, gp, grows, gsd, mp, rp, part,
                                                                rows_per);
      else
        fill_bytes(part, 0, size_t(nchunk * 2 * p.D) * sizeof(A));
      backward_param_final<scalar_t><<<unsigned((p.D + 255) / 256), 256, 0, ::ssm::cuda::stream()>>>(
          part, nchunk, p.D, static_cast<scalar_t*>(dw), static_cast<scalar_t*>(db));
      check_launch(op);
      dealloc(part, p.device);
    }
  });
  check_launch(op);
}

}  // namespace ssm::cuda
