// CUDA cat / split copies: one thread per element of the big tensor; the piece holding its
// coordinate along the joined dim is found by binary search in a table in device memory, so a
// cat of any number of tensors is one launch.
#include <cuda_runtime.h>

#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/cuda/join_cuda.h"
#include "ops/cuda/walk.h"

namespace ssm::cuda {

namespace {

struct BigArg {
  int ndim = 0, d = 0;
  int64_t numel = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};

template <class E>
__global__ void join_kernel(bool join, BigArg b, E* big, const JoinPiece* pieces, int n_pieces) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < b.numel;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t coord[kMaxDims];
    int64_t rem = i, off = 0;
    for (int k = b.ndim - 1; k >= 0; --k) {
      coord[k] = rem % b.size[k];
      rem /= b.size[k];
      off += coord[k] * b.stride[k];
    }
    int64_t c = coord[b.d];
    int lo = 0, hi = n_pieces - 1;  // the last piece with start <= c
    while (lo < hi) {
      int mid = (lo + hi + 1) / 2;
      if (pieces[mid].start <= c) lo = mid;
      else hi = mid - 1;
    }
    const JoinPiece& p = pieces[lo];
    coord[b.d] = c - p.start;
    int64_t poff = 0;
    for (int k = 0; k < b.ndim; ++k) poff += coord[k] * p.stride[k];
    if (join) {
      if (p.p) big[off] = static_cast<const E*>(p.p)[poff];
      else big[off] = E{};
    } else if (p.p) {
      static_cast<E*>(p.p)[poff] = big[off];
    }
  }
}

}  // namespace

void join_copy(bool join, void* big, const Shape& shape, const Shape& strides, int d,
               const std::vector<JoinPiece>& pieces, int64_t elem_size, int device) {
  BigArg b;
  b.ndim = shape.size();
  b.d = d;
  b.numel = shape.numel();
  for (int k = 0; k < b.ndim; ++k) {
    b.size[k] = shape[k];
    b.stride[k] = strides[k];
  }
  std::vector<JoinPiece> nonempty;
  for (const JoinPiece& p : pieces)
    if (p.n > 0) nonempty.push_back(p);
  if (b.numel == 0 || nonempty.empty()) return;
  size_t bytes = nonempty.size() * sizeof(JoinPiece);
  auto* table = static_cast<JoinPiece*>(alloc(bytes, device));
  // Pageable source: the driver stages it at once, so the vector may go away after the call.
  cudaError_t e = cudaMemcpyAsync(table, nonempty.data(), bytes, cudaMemcpyHostToDevice, ::ssm::cuda::stream());
  SSM_CHECK(e == cudaSuccess, "cat: CUDA error uploading the piece table: ", cudaGetErrorString(e));
  int n = int(nonempty.size());
  auto launch = [&](auto tag) {
    using E = decltype(tag);
    join_kernel<E><<<grid_for(b.numel), 256, 0, ::ssm::cuda::stream()>>>(join, b, static_cast<E*>(big), table, n);
  };
  switch (elem_size) {
    case 1: launch(Bits<1>{}); break;
    case 2: launch(Bits<2>{}); break;
    case 4: launch(Bits<4>{}); break;
    case 8: launch(Bits<8>{}); break;
    case 16: launch(Bits<16>{}); break;
    default: SSM_FAIL("cat: unexpected element size ", elem_size);
  }
  check_launch(join ? "cat" : "split");
  dealloc(table, device);
}

}  // namespace ssm::cuda
