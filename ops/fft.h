// Discrete Fourier transforms along one dim: fft, ifft, rfft, irfft, as torch.fft computes them
// with norm="backward" (the forward transform unscaled, the inverse scaled by 1/n).
//
// Complex tensors are real tensors with a trailing dim of 2 (real, imaginary), as
// torch.view_as_real gives (core/dtype.h). For a complex input, `dim` counts the complex dims,
// without that trailing 2: dim = -1 is the last complex dim, as in torch.fft.fft(
// torch.view_as_complex(x), dim=-1).
//
// Dims: m = the input's length along dim, n = the transform length, F = n/2 + 1 (integer
// division) the bins of a real signal's spectrum. n = -1 takes torch's default (n=None): m, or
// 2 (m - 1) for irfft. The input is truncated to n or zero-padded to it along dim first, as torch
// does. Any n >= 1: lengths with prime factors above 31 go through Bluestein's algorithm.
//
// float32 and float64 (the result has x's dtype and device); 16-bit inputs are rejected, as in
// torch (cast to float32 first). CPU: ops/fft_plan.h; CUDA: cuFFT (ops/cuda/fft.cu). Plans are
// cached on both.
//
// Each op records one autograd Node. The transforms are linear, so the backward is the adjoint
// of the forward map over the real-pair values (for a complex-linear map A, the adjoint is A^H),
// then the adjoint of the padding / truncation (truncate / zero-pad back to m). Nothing is saved
// but the lengths.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

// X[k] = sum_{j<n} x[j] e^{-2 pi i jk / n}, k < n.
// x: (..., m, ..., 2) -> (..., n, ..., 2).  Backward: dx = n ifft(g) = sum_k g[k] e^{+2 pi i jk/n}.
Tensor fft(const Tensor& x, int64_t n = -1, int64_t dim = -1);

// x[j] = (1/n) sum_{k<n} X[k] e^{+2 pi i jk / n}, j < n.
// X: (..., m, ..., 2) -> (..., n, ..., 2).  Backward: dX = fft(g) / n.
Tensor ifft(const Tensor& X, int64_t n = -1, int64_t dim = -1);

// The non-negative frequencies of a real signal's DFT: X[k] for k < F.
// x: (..., m, ...) real -> (..., F, ..., 2).
// Backward: dx[j] = sum_{k<F} Re(g[k] e^{+2 pi i jk / n}), i.e. n irfft(w g) with w[k] = 1/2 for
// 0 < k < n/2 (the bins that stand for a conjugate pair, which irfft counts twice) and w = 1 at
// k = 0 and, for even n, k = n/2.
Tensor rfft(const Tensor& x, int64_t n = -1, int64_t dim = -1);

// The real signal of a Hermitian spectrum given by its bins 0..F-1 (the input is truncated or
// zero-padded to F bins; the imaginary parts of bin 0 and, for even n, bin n/2 are ignored):
//   x[j] = (1/n) sum_{k<F} c_k Re(X[k] e^{+2 pi i jk / n}),  c_k = 1 at k = 0 and n/2, else 2.
// X: (..., m, ..., 2) -> (..., n, ...) real.
// Backward: dX[k] = (c_k / n) rfft(g)[k] for k < F (imaginary parts of bins 0 and n/2 get 0), and
// 0 for input bins k >= F.
Tensor irfft(const Tensor& X, int64_t n = -1, int64_t dim = -1);

// ---- kernels (ops/dispatch.h): CPU in ops/fft.cpp (over ops/fft_plan.h), CUDA in ops/cuda/fft.cpp

// Batched transforms of contiguous rows. x: (R, in_len) real or (R, in_len, 2) complex; y: (R,
// out_len) or (R, out_len, 2), contiguous, x's dtype and device, written in full. Every input row
// is truncated or zero-padded to the transform's input length, and every output row is the
// transform's output times `scale`, truncated or zero-padded to out_len; the transforms are
// unnormalised sums (scale 1/n makes an inverse normalised):
//   c2c: n complex -> n complex, e^{-2 pi i jk/n} (e^{+...} when `inverse`)
//   r2c: n real -> F complex bins
//   c2r: F complex bins -> n real, sum_k c_k Re(X[k] e^{+2 pi i jk/n}) (c_k as for irfft)
// Padding and truncation are part of the contract so that neither the ops nor their backwards
// copy rows to resize them.
struct FftKernels {
  bool (*supports)(DType dtype);
  void (*c2c)(const Tensor& x, const Tensor& y, int64_t n, bool inverse, double scale);
  void (*r2c)(const Tensor& x, const Tensor& y, int64_t n, double scale);
  void (*c2r)(const Tensor& x, const Tensor& y, int64_t n, double scale);
};

}  // namespace ssm
