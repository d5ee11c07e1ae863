// The long-convolution layer core of S4 and S4D, fused: a per-channel FFT convolution of a
// channels-last sequence, the D skip and the GELU, one op with its backward.
//
//   y[b, t, h] = act( sum_{s<=t, s<Lk} k[h, s] u[b, t-s, h]
//                     + sum_{s<Lr, t+1+s<L} k_rev[h, s] u[b, t+1+s, h]      (when k_rev is given)
//                     + D[h] u[b, t, h] )                                    (when D is given)
// u: (B, L, H) (the models' channels-last layout), k: (H, Lk), k_rev: (H, Lr), D: (H), Lk, Lr
// <= L; act = GELU (exact, erf) or the identity. float32 / float64, one dtype and device.
//
// This is gelu(fft_conv(u^T, k, k_rev) + D u^T)^T (ops/fft_conv.h: the same circular convolution
// of length n >= L + max(Lk - 1, Lr) with the same kernel buffer) written as one op so that the
// transposes, the padded copies, the spectra and the elementwise passes around the transforms
// never reach memory. Kernels:
//   CPU   one row (b, h) at a time through ops/fft_plan.h's real transforms.
//   CUDA  one thread block per row: the n-point real FFT packed as an n/2-point complex FFT held
//         in shared memory (radix-2 stages fused three at a time in registers, twiddles tabled in
//         shared memory), the spectral product, the inverse, the skip and the GELU, reading u
//         and writing y in place in the (B, L, H) layout (ops/long_conv_block.h has the block
//         program, shared with the host test that checks it). n is a power of two; when n/2
//         complex values do not fit in shared memory (L > 16384 in float32, > 8192 in float64)
//         the op runs the unfused composite above instead, with the same result (as it does
//         while cuda::long_conv_fused() is off, below).
//
// Nothing is saved but the inputs and the kernel's spectrum K^ = rfft(K, n) (H, n/2 + 1, 2).
// Backward recomputes per row: U = rfft(u), the pre-activation p = irfft(U K^) + D u, then
//   g = dy act'(p),  G = rfft(g),  du = irfft(G conj(K^))[:L] + D g,  dD = sum_{b,t} u g,
//   dK = irfft(sum_b G_b conj(U_b)),  dk = dK[:Lk],  dk_rev[s] = dK[n - 1 - s]
// with every sum over b taken in a fixed order.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

Tensor long_conv(const Tensor& u, const Tensor& k, const Tensor& D, const Tensor& k_rev = Tensor(),
                 bool gelu = true);

namespace cuda {
// Whether CUDA tensors take the fused shared-memory kernel (else the composite on cuFFT, whose
// kernels have been checked on a GPU). Off by default until the fused kernel has passed
// tests/cuda/long_conv_test.cpp on a GPU; SSM_FUSED_LONG_CONV=1 in the environment, or
// set_long_conv_fused(true), turns it on.
void set_long_conv_fused(bool on);
bool long_conv_fused();
}  // namespace cuda

// ---- kernels (ops/dispatch.h): CPU in ops/long_conv.cpp, CUDA in ops/cuda/long_conv.cpp.

struct LongConvArgs {
  Tensor u;   // (B, L, H), contiguous
  Tensor Kf;  // (H, n/2 + 1, 2): the unscaled spectrum of the kernel buffer, contiguous
  Tensor D;   // (H) contiguous, or undefined (no skip)
  int64_t n = 0;
  bool gelu = true;
};

struct LongConvKernels {
  bool (*supports)(DType dtype);
  // The transform length these kernels use when the kernel buffer must hold `need` = L +
  // max(Lk - 1, Lr) points, or 0 when they cannot run it (the op then composes fft_conv).
  int64_t (*size)(DType dtype, int64_t need);
  // y: (B, L, H) contiguous, written in full.
  void (*forward)(const LongConvArgs& a, const Tensor& y);
  // dy: (B, L, H) contiguous -> du (B, L, H), dKf (H, n/2 + 1, 2) = sum_b G_b conj(U_b)
  // (unscaled), dD (H) when D is defined; all contiguous and written in full.
  void (*backward)(const LongConvArgs& a, const Tensor& dy, const Tensor& du, const Tensor& dKf,
                   const Tensor& dD);
};

}  // namespace ssm
