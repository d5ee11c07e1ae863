// CUDA kernels of the cauchy op for ops/cuda/cauchy.cpp (CUDA builds only), plain pointers; the
// contracts are CauchyKernels' (ops/cauchy.h). Complex values are interleaved pairs of `dtype`
// (f32 or f64), all contiguous. R = G * H rows.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// The f-chunk length of the backward's partial sums: parts hold (R, M, ceil(F / kCauchyChunk)).
inline constexpr int64_t kCauchyChunk = 256;

// out: (G, H, F) from v: (G, H, M), w: (H, M), z: (F).
void cauchy_forward(int device, DType dtype, const void* v, const void* w, const void* z,
                    void* out, int64_t G, int64_t H, int64_t M, int64_t F);

// dv: (G, H, M) and dw: (H, M) (either may be null) from g: (G, H, F); part_s, part_t: complex
// workspaces of (G * H * M * ceil(F / kCauchyChunk)) each.
void cauchy_backward(int device, DType dtype, const void* v, const void* w, const void* z,
                     const void* g, void* dv, void* dw, void* part_s, void* part_t, int64_t G,
                     int64_t H, int64_t M, int64_t F);

}  // namespace ssm::cuda
