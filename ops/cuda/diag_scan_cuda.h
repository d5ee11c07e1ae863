// CUDA kernels of diag_scan for ops/cuda/diag_scan.cpp (CUDA builds only), plain pointers; the
// contracts are DiagScanKernels' (ops/diag_scan.h). Complex values are interleaved pairs of
// `dtype` (f32 or f64), all contiguous; b, x, h: (B, L, P); lambda: (P) or (B, L, P).
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

struct DiagScanLaunch {
  int device = 0;
  DType dtype = DType::f32;
  const void* lambda = nullptr;
  const int32_t* seq_start = nullptr;  // (B, L) or null
  int64_t B = 0, L = 0, P = 0;
  bool per_step = false, reverse = false, adjoint = false;
};

// Time steps per chunk of the scan for length L (chunks = ceil(L / it)).
int64_t diag_scan_chunk_length(int64_t L);

// x = the scan of b. work: 2 * B * chunks * P complex values (each chunk's end state and factor
// product, then the carries into the chunks).
void diag_scan_forward(const DiagScanLaunch& s, const void* b, void* x, void* work);

// out_k = h_k conj(x_{k-d}) where position k has a previous state (s.adjoint is false), else 0.
void diag_scan_lambda_grad(const DiagScanLaunch& s, const void* h, const void* x, void* out);

}  // namespace ssm::cuda
