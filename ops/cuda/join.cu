// CUDA cat / split copies. Row layouts (every tensor contiguous from the joined dim on, the
// dims before it collapsing into one) take one 2D copy per piece; any other layout takes one
// thread per element of the big tensor, the piece holding its coordinate along the joined dim
// found by binary search in a table in device memory, so a cat of any number of tensors is one
// launch.
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

// The tensor (dims of `size`, the piece's length n along d) as `rows` rows of `width` elements
// that are contiguous in memory, `pitch` elements apart: dims d.. contiguous, the dims before d
// collapsing into one. False when the layout is not like that.
bool as_rows(const BigArg& b, const int64_t* stride, int64_t n, int64_t& rows, int64_t& width,
             int64_t& pitch) {
  int64_t expect = 1;
  for (int k = b.ndim - 1; k >= b.d; --k) {
    const int64_t sz = k == b.d ? n : b.size[k];
    if (sz > 1 && stride[k] != expect) return false;
    expect *= sz;
  }
  width = expect;
  rows = 1;
  pitch = width;
  int64_t run = -1;  // the stride the next outer dim must have to collapse
  for (int k = b.d - 1; k >= 0; --k) {
    if (b.size[k] == 1) continue;
    if (run < 0) {
      pitch = stride[k];
      if (pitch < width) return false;
    } else if (stride[k] != run) {
      return false;
    }
    run = stride[k] * b.size[k];
    rows *= b.size[k];
  }
  return true;
}

// cat / split of row layouts (the usual case: contiguous tensors joined along any dim) as one
// 2D copy per piece: the copy engines' strided path runs near copy bandwidth, where the
// element kernel below pays a division per dim and a table search per element (12.5 ms of a
// 150-ms Mamba-130M training step went to it). False (nothing done) when a layout does not fit.
bool join_rows(bool join, void* big, const BigArg& b, const std::vector<JoinPiece>& pieces,
               int64_t es) {
  int64_t brows, bwidth, bpitch;
  if (!as_rows(b, b.stride, b.size[b.d], brows, bwidth, bpitch)) return false;
  const int64_t inner = b.size[b.d] > 0 ? bwidth / b.size[b.d] : 0;
  struct Plan {
    const JoinPiece* p;
    int64_t width, pitch;
  };
  std::vector<Plan> plans;
  for (const JoinPiece& p : pieces) {
    int64_t rows = brows, width = p.n * inner, pitch = width;
    if (p.p && (!as_rows(b, p.stride, p.n, rows, width, pitch) || rows != brows)) return false;
    plans.push_back({&p, width, pitch});
  }
  for (const Plan& q : plans) {
    char* bp = static_cast<char*>(big) + q.p->start * inner * es;
    cudaError_t e = cudaSuccess;
    if (join && q.p->p)
      e = cudaMemcpy2DAsync(bp, size_t(bpitch * es), q.p->p, size_t(q.pitch * es),
                            size_t(q.width * es), size_t(brows), cudaMemcpyDeviceToDevice,
                            ::ssm::cuda::stream());
    else if (join)
      e = cudaMemset2DAsync(bp, size_t(bpitch * es), 0, size_t(q.width * es), size_t(brows),
                            ::ssm::cuda::stream());
    else if (q.p->p)
      e = cudaMemcpy2DAsync(q.p->p, size_t(q.pitch * es), bp, size_t(bpitch * es),
                            size_t(q.width * es), size_t(brows), cudaMemcpyDeviceToDevice,
                            ::ssm::cuda::stream());
    SSM_CHECK(e == cudaSuccess, join ? "cat" : "split", ": CUDA error in a 2D copy: ",
              cudaGetErrorString(e));
  }
  return true;
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
  if (join_rows(join, big, b, nonempty, elem_size)) return;
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
