// CUDA transforms for ops/fft.cpp and ops/fft_conv.cpp (CUDA builds only): plain-pointer
// launchers over cuFFT. The contracts are the CPU kernels' (ops/fft.h, ops/fft_conv.h).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

enum class FftType { c2c, r2c, c2r };

// One batched transform of `rows` contiguous rows: x rows of in_len elements, y rows of out_len
// (an element is a real, or an interleaved complex pair); rows truncated or zero-padded on the
// way in and out, the output times `scale` (FftKernels in ops/fft.h). dtype f32 or f64.
struct FftCall {
  int device = 0;
  DType dtype = DType::f32;
  FftType type = FftType::c2c;
  bool inverse = false;  // c2c only
  int64_t rows = 0, n = 0, in_len = 0, out_len = 0;
  double scale = 1;
  const void* x = nullptr;
  void* y = nullptr;
};

void fft_rows(const FftCall& c);

// cuFFT plans held by the cache (for tests).
int64_t fft_cached_plans();

}  // namespace ssm::cuda
