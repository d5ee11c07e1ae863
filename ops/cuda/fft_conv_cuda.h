// CUDA spectral products of fft_conv for ops/cuda/fft_conv.cpp (CUDA builds only), plain
// pointers; the contracts are FftConvKernels' (ops/fft_conv.h). Complex values are interleaved
// pairs of `dtype` (f32 or f64), all contiguous.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// y[b, h, f] = a[b, h, f] * k[h, f] (conj(k) when conj_k); a, y: (B, H, F), k: (H, F). y may be a.
void fft_conv_mul(int device, DType dtype, const void* a, const void* k, void* y, int64_t B,
                  int64_t H, int64_t F, bool conj_k);

// y[h, f] = sum_b a[b, h, f] conj(c[b, h, f]), b in order (one thread per (h, f)).
void fft_conv_mul_conj_sum(int device, DType dtype, const void* a, const void* c, void* y,
                           int64_t B, int64_t H, int64_t F);

}  // namespace ssm::cuda
