// The CPU FFT under ops/fft.h: plans for a length n and the batched row transforms that the CPU
// kernel table of ops/fft.cpp calls. Float and double alike (templates on the scalar T).
//
// Written here rather than taken from Debian: libkissfft-dev (the BSD candidate) is built for
// float only, and the ops need float64 for their gradient checks; FFTW is GPL.
//
// The complex transform is a mixed-radix Stockham autosort FFT (no bit reversal: each stage reads
// one buffer and writes the other, in natural order at the end), radix 8, 4, 2, 3 and 5 butterflies
// written out and a generic butterfly for the other primes up to kMaxRadix; a length with a larger
// prime factor goes through Bluestein's chirp-z algorithm, a convolution of length M >= 2n - 1
// (M 5-smooth) done with two smooth transforms per call (the chirp kernel's spectrum is computed
// once, with the plan). Data is kept split (real parts, imaginary parts) so that the butterflies'
// loops over the stride vectorise. Sources: C. Van Loan, "Computational Frameworks for the Fast
// Fourier Transform" (SIAM 1992), the Stockham and mixed-radix frameworks and FFTs of real data;
// L. Bluestein, "A linear filtering approach to the computation of the discrete Fourier
// transform" (1970).
//
// Real transforms of even n run one complex transform of n/2 points on the even / odd samples
// packed as real / imaginary parts, then split the spectrum; odd n runs the complex transform of
// n points.
//
// Plans (factorisation, twiddles, Bluestein chirps and kernel spectra) are costly to build and
// are cached per (scalar type, kind, n); rows are spread over core/parallel.h's threads.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace ssm::fft_cpu {

// Prime factors up to this are butterflies of their own; a length with a larger one uses
// Bluestein (a generic radix-p butterfly costs p multiply-adds per point).
inline constexpr int kMaxRadix = 31;

// The unnormalised forward DFT of one length: X[k] = sum_j x[j] e^{-2 pi i jk / n}.
template <class T>
class ComplexPlan {
 public:
  explicit ComplexPlan(int64_t n);
  int64_t size() const { return n_; }
  // Scratch values of T that run() needs.
  int64_t work_size() const;
  // re, im: n values each, replaced by their DFT. work: work_size() values.
  void run(T* re, T* im, T* work) const;
  bool bluestein() const { return inner_ != nullptr; }

 private:
  struct Stage {
    int p = 0;          // radix
    int64_t m = 0;      // sub-transforms still to come after this stage: N = p * m
    int64_t s = 0;      // stride (independent sequences interleaved)
    std::vector<T> wr, wi;  // twiddles e^{-2 pi i i k / N}, (m, p - 1)
    std::vector<T> rr, ri;  // generic radix only: the p-th roots of unity e^{-2 pi i j / p}
  };
  void run_stages(T* re, T* im, T* work) const;
  void run_bluestein(T* re, T* im, T* work) const;

  int64_t n_ = 0;
  std::vector<Stage> stages_;
  // Bluestein: chirp c_j = e^{-i pi j^2 / n} (j < n), the spectrum of the conjugate chirp kernel
  // over M points divided by M, and the M-point plan.
  std::shared_ptr<const ComplexPlan> inner_;
  std::vector<T> chirp_re_, chirp_im_, kernel_re_, kernel_im_;
};

// Real-input transform of length n: forward gives bins 0..n/2 of the DFT; inverse takes those bins
// (the imaginary parts of bin 0 and, for even n, of bin n/2 ignored, as for a Hermitian spectrum)
// and gives the n real values of sum_k c_k Re(X[k] e^{2 pi i jk / n}), c_k = 1 for bin 0 and n/2,
// 2 otherwise (the unnormalised inverse of the full Hermitian spectrum).
template <class T>
class RealPlan {
 public:
  explicit RealPlan(int64_t n);
  int64_t size() const { return n_; }
  int64_t work_size() const;
  // x: n reals -> re, im: n/2 + 1 values each.
  void forward(const T* x, T* re, T* im, T* work) const;
  // re, im: n/2 + 1 values each (read only) -> x: n reals.
  void inverse(const T* re, const T* im, T* x, T* work) const;

 private:
  int64_t n_ = 0;
  std::shared_ptr<const ComplexPlan<T>> plan_;  // n/2 points for even n, n for odd n
  std::vector<T> wr_, wi_;                      // even n: e^{-2 pi i k / n}, k < n/2
};

// The cached plans (built on first use; thread-safe).
template <class T>
std::shared_ptr<const ComplexPlan<T>> complex_plan(int64_t n);
template <class T>
std::shared_ptr<const RealPlan<T>> real_plan(int64_t n);
// Plans held by the cache (both kinds, both types); for tests.
int64_t cached_plans();

// Batched transforms of `rows` contiguous rows, the CPU kernels of ops/fft.h. x has rows of
// in_len elements, y rows of out_len elements; a complex element is an interleaved (real,
// imaginary) pair. Each input row is truncated or zero-padded to the transform's input length and
// each output row is the transform's output times `scale`, truncated or zero-padded to out_len.
//   c2c: n complex -> n complex; inverse: e^{+2 pi i jk / n}
//   r2c: n real -> n/2 + 1 complex bins
//   c2r: n/2 + 1 complex bins -> n real (RealPlan::inverse)
template <class T>
void c2c_rows(const T* x, int64_t in_len, T* y, int64_t out_len, int64_t rows, int64_t n,
              bool inverse, T scale);
template <class T>
void r2c_rows(const T* x, int64_t in_len, T* y, int64_t out_len, int64_t rows, int64_t n, T scale);
template <class T>
void c2r_rows(const T* x, int64_t in_len, T* y, int64_t out_len, int64_t rows, int64_t n, T scale);

// The smallest 2^a 3^b 5^c >= n (n >= 1), even when `even` (a >= 1): fast lengths for both the
// CPU plans and cuFFT.
int64_t next_fast_size(int64_t n, bool even = false);

}  // namespace ssm::fft_cpu
