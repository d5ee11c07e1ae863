// The block program of long_conv's CUDA kernels (ops/long_conv.h): one thread block convolves
// one row (b, h) of a channels-last sequence through an FFT held in shared memory.
//
// Written once over a `Team` of threads so that the same code runs on the GPU (ops/cuda/
// long_conv.cu: each phase is one pass of the block's threads, then __syncthreads) and on the
// host (tests/ops/long_conv_block_test.cpp: each phase loops over the thread ids), where its
// index arithmetic is checked against the CPU kernels. A Team has
//   team.each(f)   run f(tid, nthreads) for every thread of the block, then synchronise;
//   team.sum(red)  the sum of red[0 .. nthreads) (filled by the previous phase), in thread 0.
//
// The maths. A real signal x of n = 2m points (m a power of two, >= 32) is packed as the complex
// z_j = x_2j + i x_2j+1 (m points) and transformed in place by decimation in frequency, radix-2
// stages fused three at a time in registers: natural order in, bit-reversed order out, no
// permutation pass. Its real spectrum follows from the pairs (Z_k, Z_m-k) (W = e^{-2 pi i k/n}):
//   X_k = E + W O,  X_m-k = conj(E - W O),  E = (Z_k + conj Z_m-k)/2,  O = (Z_k - conj Z_m-k)/2i
// The product Y = X K^ is packed back into the m-point spectrum of y_2j + i y_2j+1,
//   Z'_k = (Y_k + conj Y_m-k) + i conj(W) (Y_k - conj Y_m-k)
// and an inverse by decimation in time (bit-reversed in, natural out) gives n y. Bins 0 and m are
// real (their imaginary parts are ignored, as irfft does). Twiddles e^{-2 pi i j/m}, j < m/2, are
// tabled in shared memory once per block; e^{-2 pi i k/n} is computed where it is used.
//
// Shared memory: S (m complex, indices swizzled by sw() so that the strided accesses of the late
// stages spread over the banks), the twiddle table (m/2 complex) and red (one value per thread).
#pragma once

#include <cmath>
#include <cstdint>

#include "core/complex.h"
#include "ops/unary_functors.h"

#if defined(__CUDACC__)
#define SSM_BLOCK __device__ __forceinline__
#else
#define SSM_BLOCK inline
#endif

namespace ssm::long_conv_block {

template <class T>
using Cx = Complex<T>;

// The largest m (= n/2) whose buffers fit in an H100's 227 KiB of shared memory per block.
template <class T>
constexpr int kMaxPoints = sizeof(T) == 4 ? 16384 : 8192;

// Threads per block for m points: an 8-point group per thread and stage at the largest sizes.
inline int threads_for(int m) {
  int t = m / 8;
  return t < 32 ? 32 : (t > 1024 ? 1024 : t);
}

template <class T>
int64_t smem_bytes(int m, int threads) {
  return int64_t(m + m / 2) * int64_t(sizeof(Cx<T>)) + int64_t(threads) * int64_t(sizeof(T));
}

template <class T>
struct Smem {
  Cx<T>* S;   // m values
  Cx<T>* tw;  // m/2 values
  T* red;     // one per thread
};

template <class T>
SSM_BLOCK Smem<T> carve(void* base, int m) {
  Cx<T>* S = static_cast<Cx<T>*>(base);
  return {S, S + m, reinterpret_cast<T*>(S + m + m / 2)};
}

// One row's problem: u, dy, y, du (B, L, H) channels-last; Kf (H, m + 1) complex.
template <class T>
struct Row {
  const T* u = nullptr;
  const T* dy = nullptr;
  T* y = nullptr;   // forward output
  T* du = nullptr;  // backward output (holds g = dy act'(p) between two phases)
  const Cx<T>* Kf = nullptr;
  const T* D = nullptr;  // (H) or null
  int64_t B = 0, L = 0, H = 0;
  int m = 0, logm = 0;
  bool gelu = true;
};

SSM_BLOCK int sw(int i) { return i ^ ((i >> 4) & 15); }

SSM_BLOCK int bit_reverse(int k, int bits) {
#if defined(__CUDA_ARCH__)
  return int(__brev(unsigned(k)) >> (32 - bits));
#else
  int r = 0;
  for (int i = 0; i < bits; ++i) r |= ((k >> i) & 1) << (bits - 1 - i);
  return r;
#endif
}

// e^{i pi x} (x exact in T for the arguments used: k / 2^j).
template <class T>
SSM_BLOCK Cx<T> expi_pi(T x) {
  T s, c;
#if defined(__CUDA_ARCH__)
  if constexpr (sizeof(T) == 4)
    sincospif(x, &s, &c);
  else
    sincospi(x, &s, &c);
#else
  const double a = 3.14159265358979323846 * double(x);
  s = T(std::sin(a));
  c = T(std::cos(a));
#endif
  return {c, s};
}

template <class T, class Team>
SSM_BLOCK void make_twiddles(Team& team, Smem<T> s, int m) {
  team.each([&](int tid, int nt) {
    for (int i = tid; i < m / 2; i += nt) s.tw[i] = expi_pi(T(-2) * T(i) / T(m));
  });
}

// R radix-2 DIF stages of half sizes h, h/2, ..., h >> (R-1) on group g: 2^R values d apart.
template <int R, class T>
SSM_BLOCK void dif_group(Cx<T>* S, const Cx<T>* tw, int m, int h, int g) {
  const int d = (2 * h) >> R;
  const int blk = g / d, j = g - blk * d;
  const int base = blk * 2 * h + j;
  Cx<T> v[1 << R];
#pragma unroll
  for (int e = 0; e < (1 << R); ++e) v[e] = S[sw(base + e * d)];
#pragma unroll
  for (int q = 0; q < R; ++q) {
    const int half = 1 << (R - 1 - q), scale = m / (2 * (h >> q));
#pragma unroll
    for (int e = 0; e < (1 << R); ++e) {
      if (e & half) continue;
      const int pos = j + (e & (half - 1)) * d;  // the pair's place in its block of 2 (h >> q)
      Cx<T> a = v[e], b = v[e + half];
      v[e] = a + b;
      v[e + half] = (a - b) * tw[pos * scale];
    }
  }
#pragma unroll
  for (int e = 0; e < (1 << R); ++e) S[sw(base + e * d)] = v[e];
}

// R radix-2 DIT stages of half sizes h, 2h, ..., h << (R-1), inverse twiddles, on group g:
// 2^R values h apart.
template <int R, class T>
SSM_BLOCK void dit_group(Cx<T>* S, const Cx<T>* tw, int m, int h, int g) {
  const int blk = g / h, j = g - blk * h;
  const int base = blk * (h << R) + j;
  Cx<T> v[1 << R];
#pragma unroll
  for (int e = 0; e < (1 << R); ++e) v[e] = S[sw(base + e * h)];
#pragma unroll
  for (int q = 0; q < R; ++q) {
    const int half = 1 << q, scale = m / (2 * (h << q));
#pragma unroll
    for (int e = 0; e < (1 << R); ++e) {
      if (e & half) continue;
      const int pos = j + (e & (half - 1)) * h;
      Cx<T> a = v[e], b = v[e + half] * conj(tw[pos * scale]);
      v[e] = a + b;
      v[e + half] = a - b;
    }
  }
#pragma unroll
  for (int e = 0; e < (1 << R); ++e) S[sw(base + e * h)] = v[e];
}

// Forward m-point DFT of S in place, natural order in, bit-reversed out.
template <class T, class Team>
SSM_BLOCK void fft_dif(Team& team, Smem<T> s, int m, int logm) {
  for (int left = logm; left > 0;) {
    const int R = left >= 3 ? 3 : left, h = 1 << (left - 1), groups = m >> R;
    team.each([&](int tid, int nt) {
      for (int g = tid; g < groups; g += nt) {
        if (R == 3)
          dif_group<3>(s.S, s.tw, m, h, g);
        else if (R == 2)
          dif_group<2>(s.S, s.tw, m, h, g);
        else
          dif_group<1>(s.S, s.tw, m, h, g);
      }
    });
    left -= R;
  }
}

// Inverse (unnormalised, e^{+}) m-point DFT of S in place, bit-reversed in, natural out.
template <class T, class Team>
SSM_BLOCK void fft_dit(Team& team, Smem<T> s, int m, int logm) {
  for (int done = 0; done < logm;) {
    const int R = logm - done >= 3 ? 3 : logm - done, h = 1 << done, groups = m >> R;
    team.each([&](int tid, int nt) {
      for (int g = tid; g < groups; g += nt) {
        if (R == 3)
          dit_group<3>(s.S, s.tw, m, h, g);
        else if (R == 2)
          dit_group<2>(s.S, s.tw, m, h, g);
        else
          dit_group<1>(s.S, s.tw, m, h, g);
      }
    });
    done += R;
  }
}

// The real spectrum's bins k and m - k from the packed transform's (0 < k <= m/2).
template <class T>
SSM_BLOCK void unpack(Cx<T> a, Cx<T> b, Cx<T> w, Cx<T>& xk, Cx<T>& xmk) {
  Cx<T> e{T(0.5) * (a.re + b.re), T(0.5) * (a.im - b.im)};
  Cx<T> o{T(0.5) * (a.im + b.im), T(-0.5) * (a.re - b.re)};
  Cx<T> wo = w * o;
  xk = e + wo;
  xmk = conj(e - wo);
}

// The packed inverse's bins k and m - k from the real spectrum's (0 < k <= m/2).
template <class T>
SSM_BLOCK void pack(Cx<T> yk, Cx<T> ymk, Cx<T> w, Cx<T>& zk, Cx<T>& zmk) {
  const Cx<T> i{T(0), T(1)};
  zk = (yk + conj(ymk)) + i * conj(w) * (yk - conj(ymk));
  zmk = (ymk + conj(yk)) - i * w * (ymk - conj(yk));
}

// After fft_dif of a packed real row: for each bin pair, X = the real spectrum, kept in `keep`
// (m + 1 values, when not null), `acc` (m + 1 values, when not null) gets X conj(keep_from)
// added (or written, when `first`), and S gets the packed spectrum of X * K^ (conj(K^) when
// `conj_k`), ready for fft_dit.
template <class T, class Team>
SSM_BLOCK void spectral_product(Team& team, Smem<T> s, int m, int logm, const Cx<T>* Kf,
                                bool conj_k, Cx<T>* keep, const Cx<T>* keep_from, Cx<T>* acc,
                                bool first) {
  team.each([&](int tid, int nt) {
    for (int k = tid; k <= m / 2; k += nt) {
      const int pk = sw(bit_reverse(k, logm));
      if (k == 0) {  // bins 0 and m, both real
        Cx<T> a = s.S[pk];
        T x0 = a.re + a.im, xm = a.re - a.im;
        if (keep) {
          keep[0] = {x0, T(0)};
          keep[m] = {xm, T(0)};
        }
        if (acc) {
          T p0 = x0 * keep_from[0].re, pm = xm * keep_from[m].re;
          acc[0] = first ? Cx<T>{p0, T(0)} : Cx<T>{acc[0].re + p0, T(0)};
          acc[m] = first ? Cx<T>{pm, T(0)} : Cx<T>{acc[m].re + pm, T(0)};
        }
        T y0 = x0 * Kf[0].re, ym = xm * Kf[m].re;
        s.S[pk] = {y0 + ym, y0 - ym};
        continue;
      }
      const int pmk = sw(bit_reverse(m - k, logm));
      const Cx<T> w = expi_pi(T(-k) / T(m));
      Cx<T> xk, xmk;
      unpack(s.S[pk], s.S[pmk], w, xk, xmk);
      if (keep) {
        keep[k] = xk;
        keep[m - k] = xmk;
      }
      if (acc) {
        Cx<T> pk_ = xk * conj(keep_from[k]), pmk_ = xmk * conj(keep_from[m - k]);
        if (first) {
          acc[k] = pk_;
          acc[m - k] = pmk_;
        } else {  // k = m/2 is its own partner: added once
          acc[k] = acc[k] + pk_;
          if (m - k != k) acc[m - k] = acc[m - k] + pmk_;
        }
      }
      Cx<T> kk = Kf[k], kmk = Kf[m - k];
      if (conj_k) {
        kk = conj(kk);
        kmk = conj(kmk);
      }
      Cx<T> zk, zmk;
      pack(xk * kk, xmk * kmk, w, zk, zmk);
      s.S[pk] = zk;
      s.S[pmk] = zmk;
    }
  });
}

template <class T>
SSM_BLOCK T act(T p, bool gelu) {
  return gelu ? fn::Gelu::f(p, UnaryParams{}) : p;
}
template <class T>
SSM_BLOCK T act_grad(T p, bool gelu) {
  return gelu ? fn::Gelu::df(p, T(0), UnaryParams{}) : T(1);
}

// Loads row (b, h) of x (B, L, H), packed and zero-padded, into S.
template <class T, class Team>
SSM_BLOCK void load_row(Team& team, Smem<T> s, const Row<T>& r, const T* x, int64_t b, int64_t h) {
  team.each([&](int tid, int nt) {
    const T* xr = x + b * r.L * r.H + h;
    for (int j = tid; j < r.m; j += nt) {
      const int64_t t = 2 * int64_t(j);
      s.S[sw(j)] = {t < r.L ? xr[t * r.H] : T(0), t + 1 < r.L ? xr[(t + 1) * r.H] : T(0)};
    }
  });
}

// y[b, :, h] = act(conv + D u) for one row; the twiddles must be made.
template <class T, class Team>
SSM_BLOCK void forward_row(Team& team, Smem<T> s, const Row<T>& r, int64_t b, int64_t h) {
  load_row(team, s, r, r.u, b, h);
  fft_dif(team, s, r.m, r.logm);
  spectral_product<T>(team, s, r.m, r.logm, r.Kf + h * (r.m + 1), false, nullptr, nullptr, nullptr,
                      false);
  fft_dit(team, s, r.m, r.logm);
  team.each([&](int tid, int nt) {
    const T scale = T(1) / T(2 * r.m), d = r.D ? r.D[h] : T(0);
    const int64_t off = b * r.L * r.H + h;
    for (int j = tid; j < r.m; j += nt) {
      const int64_t t = 2 * int64_t(j);
      if (t >= r.L) break;
      Cx<T> z = s.S[sw(j)];
      r.y[off + t * r.H] = act(z.re * scale + d * r.u[off + t * r.H], r.gelu);
      if (t + 1 < r.L) r.y[off + (t + 1) * r.H] = act(z.im * scale + d * r.u[off + (t + 1) * r.H], r.gelu);
    }
  });
}

// Backward of rows (b0 .. b1-1, h): du for each; acc (m + 1) = sum_b G_b conj(U_b); returns, in
// thread 0, sum_b,t u g (dD's share). keep: m + 1 values of scratch (U of the current row).
template <class T, class Team>
SSM_BLOCK T backward_rows(Team& team, Smem<T> s, const Row<T>& r, int64_t b0, int64_t b1, int64_t h,
                          Cx<T>* keep, Cx<T>* acc) {
  const Cx<T>* Kh = r.Kf + h * (r.m + 1);
  const T scale = T(1) / T(2 * r.m), d = r.D ? r.D[h] : T(0);
  T dsum = T(0);
  for (int64_t b = b0; b < b1; ++b) {
    const int64_t off = b * r.L * r.H + h;
    // p = conv + D u, recomputed; U kept.
    load_row(team, s, r, r.u, b, h);
    fft_dif(team, s, r.m, r.logm);
    spectral_product<T>(team, s, r.m, r.logm, Kh, false, keep, nullptr, nullptr, false);
    fft_dit(team, s, r.m, r.logm);
    // g = dy act'(p), parked in du; S <- g packed; red <- this thread's share of sum u g.
    team.each([&](int tid, int nt) {
      T part = T(0);
      for (int j = tid; j < r.m; j += nt) {
        const int64_t t = 2 * int64_t(j);
        Cx<T> z = s.S[sw(j)];
        T g0 = T(0), g1 = T(0);
        if (t < r.L) {
          T u0 = r.u[off + t * r.H];
          g0 = r.dy[off + t * r.H] * act_grad(z.re * scale + d * u0, r.gelu);
          r.du[off + t * r.H] = g0;
          part += u0 * g0;
        }
        if (t + 1 < r.L) {
          T u1 = r.u[off + (t + 1) * r.H];
          g1 = r.dy[off + (t + 1) * r.H] * act_grad(z.im * scale + d * u1, r.gelu);
          r.du[off + (t + 1) * r.H] = g1;
          part += u1 * g1;
        }
        s.S[sw(j)] = {g0, g1};
      }
      s.red[tid] = part;
    });
    dsum += team.sum(s.red);
    // G: acc += G conj(U); S <- packed G conj(K^).
    fft_dif(team, s, r.m, r.logm);
    spectral_product<T>(team, s, r.m, r.logm, Kh, true, nullptr, keep, acc, b == b0);
    fft_dit(team, s, r.m, r.logm);
    team.each([&](int tid, int nt) {
      for (int j = tid; j < r.m; j += nt) {
        const int64_t t = 2 * int64_t(j);
        if (t >= r.L) break;
        Cx<T> z = s.S[sw(j)];
        T* p0 = r.du + off + t * r.H;
        *p0 = z.re * scale + d * *p0;
        if (t + 1 < r.L) {
          T* p1 = p0 + r.H;
          *p1 = z.im * scale + d * *p1;
        }
      }
    });
  }
  return dsum;
}

}  // namespace ssm::long_conv_block
