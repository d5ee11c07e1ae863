// CUDA kernels of the long_conv op for ops/cuda/long_conv.cpp (CUDA builds only), plain pointers;
// the contracts are LongConvKernels' (ops/long_conv.h). Complex values are interleaved pairs of
// `dtype` (f32 or f64), all contiguous. The block program is ops/long_conv_block.h.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

struct LongConvLaunch {
  int device = 0;
  DType dtype = DType::f32;
  const void* u = nullptr;   // (B, L, H)
  const void* Kf = nullptr;  // (H, n/2 + 1, 2)
  const void* D = nullptr;   // (H) or null
  int64_t B = 0, L = 0, H = 0, n = 0;
  bool gelu = true;
};

// The power-of-two transform length for a kernel buffer of `need` points (at least 64), or 0
// when n/2 complex values exceed what one block's shared memory holds.
int64_t long_conv_size(DType dtype, int64_t need);

// y (B, L, H): blocks stride over the rows (b, h), h fastest, so that the blocks in flight read
// and write neighbouring channels of the same time steps (one 32-byte sector serves eight).
void long_conv_forward(const LongConvLaunch& a, void* y);

// The batch is cut into `chunks` runs of rows; one block per (chunk, h) keeps its share of
// sum_b G conj(U) in part (chunks, H, n/2 + 1, 2) and of dD in dpart (chunks, H), then a second
// kernel sums the chunks in order. keep (chunks, H, n/2 + 1, 2) is scratch (U of the block's
// current row). With one chunk, part may be dKf itself.
int64_t long_conv_backward_chunks(const LongConvLaunch& a);
void long_conv_backward(const LongConvLaunch& a, const void* dy, void* du, void* dKf, void* dD,
                        int64_t chunks, void* keep, void* part, void* dpart);

}  // namespace ssm::cuda
