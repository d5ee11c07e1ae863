// Embedding on CUDA. Forward: one block per position copies its row (an out-of-range id sets a
// device flag, the lowest bad position, read back by the launcher). Backward, deterministic: the
// (id, position) pairs are sorted by id with CUB's stable radix sort, then the first entry of
// each id's run sums that run's gradient rows in position order (float64 sums).
#include <cub/device/device_radix_sort.cuh>
#include <cuda_runtime.h>

#include <climits>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/embedding_cuda.h"
#include "ops/cuda/typed_access.cuh"

namespace ssm::cuda {

namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ int64_t id_at(const EmbeddingProblem& p, int64_t n) {
  int64_t off = p.ids_ix.offset(n);
  return p.ids_i32 ? int64_t(static_cast<const int32_t*>(p.ids)[off])
                   : static_cast<const int64_t*>(p.ids)[off];
}

template <class T>
__global__ void forward_kernel(EmbeddingProblem p, const T* w, int64_t ws0, int64_t ws1, T* out,
                               unsigned long long* bad) {
  int64_t n = blockIdx.x;
  int64_t v = id_at(p, n);
  T* o = out + n * p.D;
  if (v < 0 || v >= p.V) {
    if (threadIdx.x == 0) atomicMin(bad, (unsigned long long)n);
    for (int64_t d = threadIdx.x; d < p.D; d += kThreads) o[d] = T{};
    return;
  }
  const T* row = w + v * ws0;
  for (int64_t d = threadIdx.x; d < p.D; d += kThreads) o[d] = row[d * ws1];
}

__global__ void keys_kernel(EmbeddingProblem p, int64_t* keys, int64_t* pos) {
  int64_t n = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (n >= p.N) return;
  keys[n] = id_at(p, n);
  pos[n] = n;
}

// Block (j, d-tile): when j starts a run of equal ids, sums the run's rows of g into dw[id].
template <class T>
__global__ void backward_kernel(EmbeddingProblem p, const int64_t* keys, const int64_t* pos,
                                const T* g, int64_t pad, T* dw) {
  int64_t j = blockIdx.x;
  int64_t v = keys[j];
  if ((j > 0 && keys[j - 1] == v) || v == pad) return;
  int64_t d = int64_t(blockIdx.y) * kThreads + threadIdx.x;
  if (d >= p.D) return;
  double s = 0;
  for (int64_t k = j; k < p.N && keys[k] == v; ++k) s += double(ld_t<T>(g, pos[k] * p.D + d));
  st_t<T>(dw, v * p.D + d, acc_t<T>(s));
}

}  // namespace

int64_t embedding_forward(const EmbeddingProblem& p, const void* weight, int64_t ws0, int64_t ws1,
                          void* out, int64_t* bad_value) {
  if (p.N == 0) return -1;
  SSM_CHECK(p.N <= INT32_MAX, "embedding: ", p.N, " ids exceed the CUDA grid");
  auto* bad = static_cast<unsigned long long*>(alloc(sizeof(unsigned long long), p.device));
  fill_bytes(bad, 0xff, sizeof(unsigned long long));
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    forward_kernel<scalar_t><<<unsigned(p.N), kThreads, 0, ::ssm::cuda::stream()>>>(p, static_cast<const scalar_t*>(weight),
                                                         ws0, ws1, static_cast<scalar_t*>(out), bad);
  });
  check_launch("embedding");
  if (capturing()) {  // a CUDA graph cannot read back: the recorder checks the ids (infer/model_decoder.cpp)
    dealloc(bad, p.device);
    return -1;
  }
  unsigned long long b = 0;
  memcpy(&b, false, bad, true, sizeof b);
  dealloc(bad, p.device);
  if (b == ULLONG_MAX) return -1;
  int64_t n = int64_t(b), off = p.ids_ix.offset(n);
  if (p.ids_i32) {
    int32_t v = 0;
    memcpy(&v, false, static_cast<const int32_t*>(p.ids) + off, true, sizeof v);
    *bad_value = v;
  } else {
    memcpy(bad_value, false, static_cast<const int64_t*>(p.ids) + off, true, sizeof(int64_t));
  }
  return n;
}

void embedding_backward(const EmbeddingProblem& p, const void* g, int64_t pad, void* dw) {
  size_t esize = size_t(dtype_size(p.dtype));
  fill_bytes(dw, 0, size_t(p.V * p.D) * esize);
  if (p.N == 0 || p.D == 0) return;
  SSM_CHECK(p.N <= INT32_MAX, "embedding backward: ", p.N, " ids exceed the CUDA grid");
  int n = int(p.N);
  size_t bytes = size_t(p.N) * sizeof(int64_t);
  auto* keys = static_cast<int64_t*>(alloc(bytes, p.device));
  auto* pos = static_cast<int64_t*>(alloc(bytes, p.device));
  auto* keys2 = static_cast<int64_t*>(alloc(bytes, p.device));
  auto* pos2 = static_cast<int64_t*>(alloc(bytes, p.device));
  keys_kernel<<<unsigned((p.N + 255) / 256), 256, 0, ::ssm::cuda::stream()>>>(p, keys, pos);
  int end_bit = 1;
  while (end_bit < 63 && (int64_t(1) << end_bit) < p.V) ++end_bit;
  size_t temp_bytes = 0;
  cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, keys, keys2, pos, pos2, n, 0, end_bit, ::ssm::cuda::stream());
  void* temp = alloc(std::max<size_t>(temp_bytes, 1), p.device);
  cudaError_t e = cub::DeviceRadixSort::SortPairs(temp, temp_bytes, keys, keys2, pos, pos2, n, 0, end_bit,
                                                    ::ssm::cuda::stream());
  SSM_CHECK(e == cudaSuccess, "embedding backward: radix sort failed: ", cudaGetErrorString(e));
  SSM_CUDA_DISPATCH_FLOAT(p.dtype, [&] {
    dim3 grid(unsigned(p.N), unsigned((p.D + kThreads - 1) / kThreads));
    backward_kernel<scalar_t><<<grid, kThreads, 0, ::ssm::cuda::stream()>>>(p, keys2, pos2, static_cast<const scalar_t*>(g),
                                                  pad, static_cast<scalar_t*>(dw));
  });
  check_launch("embedding backward");
  for (void* q : {static_cast<void*>(keys), static_cast<void*>(pos), static_cast<void*>(keys2),
                  static_cast<void*>(pos2), temp})
    dealloc(q, p.device);
}

}  // namespace ssm::cuda
