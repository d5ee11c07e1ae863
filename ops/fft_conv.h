// Long convolution by FFT: the convolution of S4, S4D and the other long-kernel sequence layers,
// one op with its backward.
//
// Dims: B = batch, H = channels, L = time, Lk = kernel length (Lk <= L), Lr = reverse kernel
// length (Lr <= L), n = the FFT length, F = n/2 + 1 its bins. Time is the last, contiguous dim
// (S4's (B, H, L) layout; a channel-last caller passes u.transpose(1, 2), copied once here).
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ssm {

// The causal convolution of each channel with its own kernel, and, when k_rev is given, an
// anti-causal one with a second kernel:
//   y[b, h, t] = sum_{s=0}^{min(t, Lk-1)} k[h, s] u[b, h, t - s]
//              + sum_{s=0}^{min(Lr, L-1-t)-1} k_rev[h, s] u[b, h, t + 1 + s]
// u: (B, H, L), k: (H, Lk), k_rev: (H, Lr) or undefined -> y: (B, H, L); float32 / float64, all
// of u's dtype and device.
//
// Computed as one circular convolution of length n = the smallest even 2^a 3^b 5^c >=
// L + max(Lk - 1, Lr), long enough that nothing wraps around into the first L outputs: the
// kernel buffer K (H, n) holds k at [0, Lk) and k_rev reversed at [n - Lr, n), and
//   y = irfft(rfft(u, n) * rfft(K, n), n)[..., :L].
// Causally (no k_rev) this equals irfft(rfft(u, 2L) * rfft(k, 2L))[..., :L]. With k_rev it is the
// bidirectional convolution of S4's FFTConv (state-spaces/s4, models/s4/s4.py): for kernels k0, k1
// of length l it builds F.pad(k0, (0, L)) + F.pad(k1.flip(-1), (L, 0)) and convolves over l + L
// points, which is fft_conv(u, k0, k1).
//
// Saved for backward: the spectra U = rfft(u, n) (B, H, F, 2) and K^ = rfft(K, n) (H, F, 2)
// (about twice u's size, as PyTorch's autograd keeps for the same composite), so the backward
// takes two transforms over the batch rather than four. Backward (both are correlations):
//   du = irfft(G conj(K^), n)[..., :L],  G = rfft(g, n)
//   dK = irfft(sum_b G_b conj(U_b), n)  (summed over b in order);  dk = dK[:, :Lk],
//   dk_rev[h, s] = dK[h, n - 1 - s]
Tensor fft_conv(const Tensor& u, const Tensor& k, const Tensor& k_rev = Tensor());

// The FFT length fft_conv uses for these lengths (Lr = 0 without k_rev).
int64_t fft_conv_size(int64_t L, int64_t Lk, int64_t Lr = 0);

// The checks of k (H, 1..L) and k_rev (when defined) against u: device, dtype, shape; an
// ssm::Error naming `op` otherwise.
void fft_conv_check_kernels(const char* op, const Tensor& u, const Tensor& k, const Tensor& k_rev,
                            int64_t H, int64_t L);

// The kernel buffer K (H, n) of k and k_rev described above (k itself, uncopied when contiguous,
// without k_rev: the transforms zero-pad), and the kernels' gradients from the buffer's dK (H,
// Lk or n): {dk, dk_rev}, each undefined unless wanted. For ops that convolve the same way
// (ops/long_conv.h).
Tensor fft_conv_kernel_buffer(const Tensor& k, const Tensor& k_rev, int64_t n);
std::vector<Tensor> fft_conv_kernel_grads(const Tensor& dK, int64_t Lk, int64_t Lr, bool want_k,
                                          bool want_rev);

// ---- kernels (ops/dispatch.h): CPU in ops/fft_conv.cpp, CUDA in ops/cuda/fft_conv.cpp. The
// transforms are ops/fft.h's FftKernels; these are the products between them.

struct FftConvKernels {
  bool (*supports)(DType dtype);
  // y[b, h, f] = a[b, h, f] * k[h, f], or a[b, h, f] * conj(k[h, f]) when conj_k (complex
  // products of real pairs). a, y: (B, H, F, 2); k: (H, F, 2); contiguous; y may be a.
  void (*mul)(const Tensor& a, const Tensor& k, const Tensor& y, bool conj_k);
  // y[h, f] = sum_b a[b, h, f] * conj(c[b, h, f]), b in order. a, c: (B, H, F, 2) -> y: (H, F, 2),
  // contiguous.
  void (*mul_conj_sum)(const Tensor& a, const Tensor& c, const Tensor& y);
};

}  // namespace ssm
