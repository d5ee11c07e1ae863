// The CPU FFT (ops/fft_plan.h): Stockham stages, Bluestein, real-input packing, the plan cache
// and the batched row transforms.
#include "ops/fft_plan.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numbers>
#include <unordered_map>

#include "core/error.h"
#include "core/parallel.h"

namespace ssm::fft_cpu {

namespace {

constexpr double kTwoPi = 2 * std::numbers::pi;

// e^{-2 pi i num / den}, the angle reduced first so that large lengths keep double accuracy.
void unit_root(int64_t num, int64_t den, double& re, double& im) {
  num %= den;
  double a = -kTwoPi * double(num) / double(den);
  re = std::cos(a);
  im = std::sin(a);
}

// Radices in the order the stages run: the factors of 2 as 8s (fewest passes over the data, and
// after the first stage the stride is already a vector's width), a lone 4 or 2, then 3s, 5s and
// the other primes, so that the costlier generic butterflies run late, where their loops over the
// stride are long.
std::vector<int64_t> radices(int64_t n) {
  std::vector<int64_t> primes;  // ascending
  for (int64_t p = 2; p * p <= n; ++p)
    while (n % p == 0) {
      primes.push_back(p);
      n /= p;
    }
  if (n > 1) primes.push_back(n);
  int64_t twos = std::count(primes.begin(), primes.end(), 2);
  std::vector<int64_t> out;
  for (int64_t i = 0; i < twos / 3; ++i) out.push_back(8);
  if (twos % 3) out.push_back(twos % 3 == 1 ? 2 : 4);
  for (int64_t p : primes)
    if (p != 2) out.push_back(p);
  return out;
}

// The butterflies: DFT_P of a[0..P-1] in place (forward sign).
template <class T>
inline void bfly2(T* ar, T* ai) {
  T r = ar[0] - ar[1], i = ai[0] - ai[1];
  ar[0] += ar[1];
  ai[0] += ai[1];
  ar[1] = r;
  ai[1] = i;
}

template <class T>
inline void bfly3(T* ar, T* ai) {
  constexpr T h = T(0.86602540378443864676);  // sin(2 pi / 3)
  T tr = ar[1] + ar[2], ti = ai[1] + ai[2];
  T dr = ar[1] - ar[2], di = ai[1] - ai[2];
  T mr = ar[0] - T(0.5) * tr, mi = ai[0] - T(0.5) * ti;
  ar[0] += tr;
  ai[0] += ti;
  // b1 = a0 - t/2 - i h d, b2 = a0 - t/2 + i h d
  ar[1] = mr + h * di;
  ai[1] = mi - h * dr;
  ar[2] = mr - h * di;
  ai[2] = mi + h * dr;
}

template <class T>
inline void bfly4(T* ar, T* ai) {
  T t0r = ar[0] + ar[2], t0i = ai[0] + ai[2];
  T t1r = ar[0] - ar[2], t1i = ai[0] - ai[2];
  T t2r = ar[1] + ar[3], t2i = ai[1] + ai[3];
  // t3 = -i (a1 - a3)
  T t3r = ai[1] - ai[3], t3i = ar[3] - ar[1];
  ar[0] = t0r + t2r;
  ai[0] = t0i + t2i;
  ar[2] = t0r - t2r;
  ai[2] = t0i - t2i;
  ar[1] = t1r + t3r;
  ai[1] = t1i + t3i;
  ar[3] = t1r - t3r;
  ai[3] = t1i - t3i;
}

template <class T>
inline void bfly5(T* ar, T* ai) {
  constexpr T c1 = T(0.30901699437494742410), c2 = T(-0.80901699437494742410);  // cos 2pi/5, 4pi/5
  constexpr T s1 = T(0.95105651629515357212), s2 = T(0.58778525229247312917);   // sin 2pi/5, 4pi/5
  T t1r = ar[1] + ar[4], t1i = ai[1] + ai[4], d1r = ar[1] - ar[4], d1i = ai[1] - ai[4];
  T t2r = ar[2] + ar[3], t2i = ai[2] + ai[3], d2r = ar[2] - ar[3], d2i = ai[2] - ai[3];
  T a0r = ar[0], a0i = ai[0];
  ar[0] = a0r + t1r + t2r;
  ai[0] = a0i + t1i + t2i;
  // b1,4 = a0 + c1 t1 + c2 t2 -/+ i (s1 d1 + s2 d2); b2,3 = a0 + c2 t1 + c1 t2 -/+ i (s2 d1 - s1 d2)
  T m1r = a0r + c1 * t1r + c2 * t2r, m1i = a0i + c1 * t1i + c2 * t2i;
  T m2r = a0r + c2 * t1r + c1 * t2r, m2i = a0i + c2 * t1i + c1 * t2i;
  T e1r = s1 * d1r + s2 * d2r, e1i = s1 * d1i + s2 * d2i;
  T e2r = s2 * d1r - s1 * d2r, e2i = s2 * d1i - s1 * d2i;
  // -i e = (e.im, -e.re)
  ar[1] = m1r + e1i;
  ai[1] = m1i - e1r;
  ar[4] = m1r - e1i;
  ai[4] = m1i + e1r;
  ar[2] = m2r + e2i;
  ai[2] = m2i - e2r;
  ar[3] = m2r - e2i;
  ai[3] = m2i + e2r;
}

// Radix 8 as two radix-4 DFTs of the even and odd inputs: b_k = E_k + w^k O_k, b_{k+4} = E_k -
// w^k O_k, w = e^{-i pi / 4}, so w O is ((x + y) + i (y - x)) / sqrt 2, w^2 O = -i O and w^3 O =
// ((y - x) - i (x + y)) / sqrt 2 for O = x + i y.
template <class T>
inline void bfly8(T* ar, T* ai) {
  constexpr T h = T(0.70710678118654752440);  // 1 / sqrt 2
  T er[4] = {ar[0], ar[2], ar[4], ar[6]}, ei[4] = {ai[0], ai[2], ai[4], ai[6]};
  T o_r[4] = {ar[1], ar[3], ar[5], ar[7]}, o_i[4] = {ai[1], ai[3], ai[5], ai[7]};
  bfly4(er, ei);
  bfly4(o_r, o_i);
  T x = o_r[1], y = o_i[1];
  o_r[1] = h * (x + y);
  o_i[1] = h * (y - x);
  x = o_r[2];
  o_r[2] = o_i[2];
  o_i[2] = -x;
  x = o_r[3], y = o_i[3];
  o_r[3] = h * (y - x);
  o_i[3] = -h * (x + y);
  for (int k = 0; k < 4; ++k) {
    ar[k] = er[k] + o_r[k];
    ai[k] = ei[k] + o_i[k];
    ar[k + 4] = er[k] - o_r[k];
    ai[k + 4] = ei[k] - o_i[k];
  }
}

template <class T, int P>
inline void bfly(T* ar, T* ai) {
  if constexpr (P == 2) bfly2(ar, ai);
  if constexpr (P == 3) bfly3(ar, ai);
  if constexpr (P == 4) bfly4(ar, ai);
  if constexpr (P == 5) bfly5(ar, ai);
  if constexpr (P == 8) bfly8(ar, ai);
}

// The stage below for long strides, whose 4 P streams (real and imaginary parts of P inputs and P
// outputs) lie m s values apart: at power-of-two distances they all fall into the same few L1
// sets and evict each other on every step. Here each stream is copied through a small contiguous
// block, kChunk values at a time, so that every cache line is read or written whole at once.
constexpr int64_t kChunk = 64;

template <class T, int P>
void stage_chunked(int64_t m, int64_t s, const T* tw_r, const T* tw_i, const T* __restrict xr,
                   const T* __restrict xi, T* __restrict yr, T* __restrict yi) {
  alignas(64) T br[P][kChunk], bi[P][kChunk];
  for (int64_t i = 0; i < m; ++i) {
    T wr[P], wi[P];
    for (int k = 1; k < P; ++k) {
      wr[k] = tw_r[i * (P - 1) + k - 1];
      wi[k] = tw_i[i * (P - 1) + k - 1];
    }
    for (int64_t q0 = 0; q0 < s; q0 += kChunk) {
      const int64_t c = std::min(kChunk, s - q0);
      for (int r = 0; r < P; ++r) {
        std::copy_n(xr + q0 + s * (i + r * m), c, br[r]);
        std::copy_n(xi + q0 + s * (i + r * m), c, bi[r]);
      }
      for (int64_t q = 0; q < c; ++q) {
        T ar[P], ai[P];
        for (int r = 0; r < P; ++r) {
          ar[r] = br[r][q];
          ai[r] = bi[r][q];
        }
        bfly<T, P>(ar, ai);
        br[0][q] = ar[0];
        bi[0][q] = ai[0];
        for (int k = 1; k < P; ++k) {
          br[k][q] = ar[k] * wr[k] - ai[k] * wi[k];
          bi[k][q] = ar[k] * wi[k] + ai[k] * wr[k];
        }
      }
      for (int k = 0; k < P; ++k) {
        std::copy_n(br[k], c, yr + q0 + s * (P * i + k));
        std::copy_n(bi[k], c, yi + q0 + s * (P * i + k));
      }
    }
  }
}

// One Stockham stage of a written-out radix P: for each i < m and q < s,
//   b = DFT_P(x[q + s (i + r m)], r < P),  y[q + s (P i + k)] = b_k e^{-2 pi i i k / (P m)}.
template <class T, int P>
void stage_fixed(int64_t m, int64_t s, const T* tw_r, const T* tw_i, const T* __restrict xr,
                 const T* __restrict xi, T* __restrict yr, T* __restrict yi) {
  if (s == 1) {  // the first stage: reads run along i
    for (int64_t i = 0; i < m; ++i) {
      T ar[P], ai[P];
      for (int r = 0; r < P; ++r) {
        ar[r] = xr[i + r * m];
        ai[r] = xi[i + r * m];
      }
      bfly<T, P>(ar, ai);
      const T* wr = tw_r + i * (P - 1);
      const T* wi = tw_i + i * (P - 1);
      yr[P * i] = ar[0];
      yi[P * i] = ai[0];
      for (int k = 1; k < P; ++k) {
        yr[P * i + k] = ar[k] * wr[k - 1] - ai[k] * wi[k - 1];
        yi[P * i + k] = ar[k] * wi[k - 1] + ai[k] * wr[k - 1];
      }
    }
    return;
  }
  if (s >= kChunk && m * s * int64_t(sizeof(T)) >= 4096) {
    stage_chunked<T, P>(m, s, tw_r, tw_i, xr, xi, yr, yi);
    return;
  }
  for (int64_t i = 0; i < m; ++i) {
    T wr[P], wi[P];
    for (int k = 1; k < P; ++k) {
      wr[k] = tw_r[i * (P - 1) + k - 1];
      wi[k] = tw_i[i * (P - 1) + k - 1];
    }
    const T* xr0 = xr + s * i;
    const T* xi0 = xi + s * i;
    T* yr0 = yr + s * P * i;
    T* yi0 = yi + s * P * i;
    for (int64_t q = 0; q < s; ++q) {
      T ar[P], ai[P];
      for (int r = 0; r < P; ++r) {
        ar[r] = xr0[q + r * m * s];
        ai[r] = xi0[q + r * m * s];
      }
      bfly<T, P>(ar, ai);
      yr0[q] = ar[0];
      yi0[q] = ai[0];
      for (int k = 1; k < P; ++k) {
        yr0[q + k * s] = ar[k] * wr[k] - ai[k] * wi[k];
        yi0[q + k * s] = ar[k] * wi[k] + ai[k] * wr[k];
      }
    }
  }
}

// A stage of any radix p: b_k = sum_r a_r w^{rk}, w = e^{-2 pi i / p}, p^2 multiply-adds per
// butterfly, with the loop over the stride q innermost.
template <class T>
void stage_generic(int p, int64_t m, int64_t s, const T* tw_r, const T* tw_i, const T* rr,
                   const T* ri, const T* __restrict xr, const T* __restrict xi, T* __restrict yr,
                   T* __restrict yi) {
  for (int64_t i = 0; i < m; ++i)
    for (int k = 0; k < p; ++k) {
      T* oy_r = yr + s * (p * i + k);
      T* oy_i = yi + s * (p * i + k);
      const T* x0r = xr + s * i;
      const T* x0i = xi + s * i;
      for (int64_t q = 0; q < s; ++q) {
        oy_r[q] = x0r[q];
        oy_i[q] = x0i[q];
      }
      for (int r = 1; r < p; ++r) {
        int e = int((int64_t(r) * k) % p);
        T c = rr[e], sn = ri[e];
        const T* xr_r = xr + s * (i + r * m);
        const T* xi_r = xi + s * (i + r * m);
        for (int64_t q = 0; q < s; ++q) {
          T a = xr_r[q], b = xi_r[q];
          oy_r[q] += a * c - b * sn;
          oy_i[q] += a * sn + b * c;
        }
      }
      if (k == 0) continue;
      T wr = tw_r[i * (p - 1) + k - 1], wi = tw_i[i * (p - 1) + k - 1];
      for (int64_t q = 0; q < s; ++q) {
        T a = oy_r[q], b = oy_i[q];
        oy_r[q] = a * wr - b * wi;
        oy_i[q] = a * wi + b * wr;
      }
    }
}

}  // namespace

// ---- ComplexPlan ------------------------------------------------------------------------------

template <class T>
ComplexPlan<T>::ComplexPlan(int64_t n) : n_(n) {
  SSM_CHECK(n >= 1, "fft: transform length must be >= 1, got ", n);
  std::vector<int64_t> rad = radices(n);
  if (!rad.empty() && rad.back() > kMaxRadix) {
    // Bluestein: X_k = c_k sum_j (x_j c_j) conj(c_{k-j}), c_j = e^{-i pi j^2 / n}, a linear
    // convolution done circularly over M >= 2n - 1 points.
    int64_t M = next_fast_size(2 * n - 1);
    inner_ = complex_plan<T>(M);
    chirp_re_.resize(size_t(n));
    chirp_im_.resize(size_t(n));
    std::vector<double> kr(size_t(M), 0.0), ki(size_t(M), 0.0);
    for (int64_t j = 0; j < n; ++j) {
      // j^2 mod 2n keeps the angle small: e^{-i pi j^2 / n} has period 2n in j^2.
      int64_t e = int64_t((unsigned __int128)(j) * (unsigned __int128)(j) % (unsigned __int128)(2 * n));
      double cr, ci;
      unit_root(e, 2 * n, cr, ci);
      chirp_re_[size_t(j)] = T(cr);
      chirp_im_[size_t(j)] = T(ci);
      kr[size_t(j)] = cr;  // conj(c_j) at j and M - j
      ki[size_t(j)] = -ci;
      if (j > 0) {
        kr[size_t(M - j)] = cr;
        ki[size_t(M - j)] = -ci;
      }
    }
    // The kernel's spectrum in double whatever T (it is computed once), 1/M folded in.
    auto dplan = complex_plan<double>(M);
    std::vector<double> dw(size_t(dplan->work_size()));
    dplan->run(kr.data(), ki.data(), dw.data());
    kernel_re_.resize(size_t(M));
    kernel_im_.resize(size_t(M));
    for (int64_t k = 0; k < M; ++k) {
      kernel_re_[size_t(k)] = T(kr[size_t(k)] / double(M));
      kernel_im_[size_t(k)] = T(ki[size_t(k)] / double(M));
    }
    return;
  }
  int64_t N = n, s = 1;
  for (int64_t r : rad) {
    const int p = int(r);
    Stage st;
    st.p = p;
    st.m = N / p;
    st.s = s;
    st.wr.resize(size_t(st.m * (p - 1)));
    st.wi.resize(size_t(st.m * (p - 1)));
    for (int64_t i = 0; i < st.m; ++i)
      for (int k = 1; k < p; ++k) {
        double c, sn;
        unit_root(i * k, N, c, sn);
        st.wr[size_t(i * (p - 1) + k - 1)] = T(c);
        st.wi[size_t(i * (p - 1) + k - 1)] = T(sn);
      }
    if (p == 7 || p > 8) {  // generic butterflies
      st.rr.resize(size_t(p));
      st.ri.resize(size_t(p));
      for (int j = 0; j < p; ++j) {
        double c, sn;
        unit_root(j, p, c, sn);
        st.rr[size_t(j)] = T(c);
        st.ri[size_t(j)] = T(sn);
      }
    }
    stages_.push_back(std::move(st));
    N /= p;
    s *= p;
  }
}

template <class T>
int64_t ComplexPlan<T>::work_size() const {
  if (inner_) return 2 * inner_->size() + inner_->work_size();
  return 2 * n_;
}

template <class T>
void ComplexPlan<T>::run(T* re, T* im, T* work) const {
  if (inner_)
    run_bluestein(re, im, work);
  else
    run_stages(re, im, work);
}

template <class T>
void ComplexPlan<T>::run_stages(T* re, T* im, T* work) const {
  T *xr = re, *xi = im, *yr = work, *yi = work + n_;
  for (const Stage& st : stages_) {
    const T* wr = st.wr.data();
    const T* wi = st.wi.data();
    switch (st.p) {
      case 2: stage_fixed<T, 2>(st.m, st.s, wr, wi, xr, xi, yr, yi); break;
      case 3: stage_fixed<T, 3>(st.m, st.s, wr, wi, xr, xi, yr, yi); break;
      case 4: stage_fixed<T, 4>(st.m, st.s, wr, wi, xr, xi, yr, yi); break;
      case 5: stage_fixed<T, 5>(st.m, st.s, wr, wi, xr, xi, yr, yi); break;
      case 8: stage_fixed<T, 8>(st.m, st.s, wr, wi, xr, xi, yr, yi); break;
      default:
        stage_generic<T>(st.p, st.m, st.s, wr, wi, st.rr.data(), st.ri.data(), xr, xi, yr, yi);
    }
    std::swap(xr, yr);
    std::swap(xi, yi);
  }
  if (xr != re) {  // an odd number of stages left the result in the work buffer
    std::copy(xr, xr + n_, re);
    std::copy(xi, xi + n_, im);
  }
}

template <class T>
void ComplexPlan<T>::run_bluestein(T* re, T* im, T* work) const {
  const int64_t n = n_, M = inner_->size();
  T* ar = work;
  T* ai = work + M;
  T* iw = work + 2 * M;
  const T* cr = chirp_re_.data();
  const T* ci = chirp_im_.data();
  for (int64_t j = 0; j < n; ++j) {  // a_j = x_j c_j
    ar[j] = re[j] * cr[j] - im[j] * ci[j];
    ai[j] = re[j] * ci[j] + im[j] * cr[j];
  }
  std::fill(ar + n, ar + M, T(0));
  std::fill(ai + n, ai + M, T(0));
  inner_->run(ar, ai, iw);
  // The inverse transform of A K as conj(DFT(conj(A K))).
  const T* kr = kernel_re_.data();
  const T* ki = kernel_im_.data();
  for (int64_t k = 0; k < M; ++k) {
    T r = ar[k] * kr[k] - ai[k] * ki[k], i = ar[k] * ki[k] + ai[k] * kr[k];
    ar[k] = r;
    ai[k] = -i;
  }
  inner_->run(ar, ai, iw);
  for (int64_t k = 0; k < n; ++k) {  // X_k = c_k conj(result_k)
    T r = ar[k], i = -ai[k];
    re[k] = r * cr[k] - i * ci[k];
    im[k] = r * ci[k] + i * cr[k];
  }
}

// ---- RealPlan ---------------------------------------------------------------------------------

template <class T>
RealPlan<T>::RealPlan(int64_t n) : n_(n) {
  SSM_CHECK(n >= 1, "fft: transform length must be >= 1, got ", n);
  if (n % 2) {
    plan_ = complex_plan<T>(n);
    return;
  }
  int64_t h = n / 2;
  plan_ = complex_plan<T>(h);
  wr_.resize(size_t(h));
  wi_.resize(size_t(h));
  for (int64_t k = 0; k < h; ++k) {
    double c, s;
    unit_root(k, n, c, s);
    wr_[size_t(k)] = T(c);
    wi_[size_t(k)] = T(s);
  }
}

template <class T>
int64_t RealPlan<T>::work_size() const {
  return 2 * plan_->size() + plan_->work_size();
}

template <class T>
void RealPlan<T>::forward(const T* x, T* re, T* im, T* work) const {
  const int64_t n = n_;
  T* zr = work;
  T* zi = work + plan_->size();
  T* pw = work + 2 * plan_->size();
  if (n % 2) {
    std::copy(x, x + n, zr);
    std::fill(zi, zi + n, T(0));
    plan_->run(zr, zi, pw);
    std::copy(zr, zr + n / 2 + 1, re);
    std::copy(zi, zi + n / 2 + 1, im);
    im[0] = T(0);  // real by definition (Bluestein leaves rounding there)
    return;
  }
  const int64_t h = n / 2;
  for (int64_t j = 0; j < h; ++j) {  // z_j = x_2j + i x_2j+1
    zr[j] = x[2 * j];
    zi[j] = x[2 * j + 1];
  }
  plan_->run(zr, zi, pw);
  // Z = E + i O (E, O: the spectra of the even and odd samples), so E_k = (Z_k + conj Z_{h-k}) / 2,
  // O_k = (Z_k - conj Z_{h-k}) / 2i, and X_k = E_k + e^{-2 pi i k / n} O_k for k = 0..h.
  // Bin 0 (and h) below, so the loop has no branch and vectorises.
  for (int64_t k = 1; k < h; ++k) {
    T ar = zr[k], ai = zi[k], br = zr[h - k], bi = -zi[h - k];  // Z_k, conj Z_{h-k}
    T er = T(0.5) * (ar + br), ei = T(0.5) * (ai + bi);
    // (Z_k - conj Z_{h-k}) / 2i: (d_r + i d_i) / 2i = (d_i - i d_r) / 2
    T o_r = T(0.5) * (ai - bi), o_i = T(-0.5) * (ar - br);
    re[k] = er + o_r * wr_[k] - o_i * wi_[k];
    im[k] = ei + o_r * wi_[k] + o_i * wr_[k];
  }
  re[h] = zr[0] - zi[0];  // E_0 - O_0, both real
  im[h] = T(0);
  re[0] = zr[0] + zi[0];
  im[0] = T(0);
}

template <class T>
void RealPlan<T>::inverse(const T* re, const T* im, T* x, T* work) const {
  const int64_t n = n_;
  T* zr = work;
  T* zi = work + plan_->size();
  T* pw = work + 2 * plan_->size();
  if (n % 2) {
    // The full Hermitian spectrum, conjugated: x = Re DFT(conj Z) (Z Hermitian, so the inverse
    // transform is real and equals the conjugate of the forward transform of conj Z).
    zr[0] = re[0];
    zi[0] = T(0);
    for (int64_t k = 1; k <= n / 2; ++k) {
      zr[k] = re[k];
      zi[k] = -im[k];
      zr[n - k] = re[k];
      zi[n - k] = im[k];
    }
    plan_->run(zr, zi, pw);
    std::copy(zr, zr + n, x);
    return;
  }
  const int64_t h = n / 2;
  // 2 Z_k = (X_k + conj X_{h-k}) + i e^{2 pi i k / n} (X_k - conj X_{h-k}), with the imaginary
  // parts of X_0 and X_h taken as 0; x_2j + i x_2j+1 = sum_k 2 Z_k e^{2 pi i jk / h}, done as the
  // conjugate of the forward transform of conj(2 Z).
  for (int64_t k = 1; k < h; ++k) {
    T ar = re[k], ai = im[k];
    T br = re[h - k], bi = -im[h - k];  // conj X_{h-k}
    T er = ar + br, ei = ai + bi;
    T dr = ar - br, di = ai - bi;
    // o = d e^{+2 pi i k / n} = d conj(w_k)
    T o_r = dr * wr_[k] + di * wi_[k], o_i = di * wr_[k] - dr * wi_[k];
    // 2 Z = e + i o, stored conjugated
    zr[k] = er - o_i;
    zi[k] = -(ei + o_r);
  }
  // k = 0 with X_0 and X_h real: e = X_0 + X_h, o = X_0 - X_h (w_0 = 1)
  zr[0] = re[0] + re[h];
  zi[0] = -(re[0] - re[h]);
  plan_->run(zr, zi, pw);
  for (int64_t j = 0; j < h; ++j) {
    x[2 * j] = zr[j];
    x[2 * j + 1] = -zi[j];
  }
}

// ---- the cache --------------------------------------------------------------------------------

namespace {

// Plans per kind and scalar type. Built outside the lock (a Bluestein plan asks the cache for its
// inner plan); when full, the cache is emptied (plans in use stay alive through their pointers).
constexpr size_t kMaxCachedPlans = 64;

template <class P>
struct PlanCache {
  std::mutex mu;
  std::unordered_map<int64_t, std::shared_ptr<const P>> plans;
};

template <class P>
PlanCache<P>& plan_cache() {
  static PlanCache<P> c;
  return c;
}

template <class P>
std::shared_ptr<const P> cached(int64_t n) {
  PlanCache<P>& c = plan_cache<P>();
  {
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.plans.find(n);
    if (it != c.plans.end()) return it->second;
  }
  auto plan = std::make_shared<const P>(n);
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.plans.size() >= kMaxCachedPlans) c.plans.clear();
  return c.plans.emplace(n, plan).first->second;
}

template <class P>
int64_t cache_size() {
  PlanCache<P>& c = plan_cache<P>();
  std::lock_guard<std::mutex> lock(c.mu);
  return int64_t(c.plans.size());
}

}  // namespace

template <class T>
std::shared_ptr<const ComplexPlan<T>> complex_plan(int64_t n) {
  return cached<ComplexPlan<T>>(n);
}

template <class T>
std::shared_ptr<const RealPlan<T>> real_plan(int64_t n) {
  return cached<RealPlan<T>>(n);
}

int64_t cached_plans() {
  return cache_size<ComplexPlan<float>>() + cache_size<ComplexPlan<double>>() +
         cache_size<RealPlan<float>>() + cache_size<RealPlan<double>>();
}

int64_t next_fast_size(int64_t n, bool even) {
  SSM_CHECK(n >= 1, "fft: next_fast_size needs n >= 1, got ", n);
  for (int64_t m = n;; ++m) {
    if (even && m % 2) continue;
    int64_t r = m;
    for (int p : {2, 3, 5})
      while (r % p == 0) r /= p;
    if (r == 1) return m;
  }
}

// ---- row transforms ---------------------------------------------------------------------------

namespace {

// Rows per thread: about n log2 n units of work each (core/parallel.h).
int64_t row_grain(int64_t n) {
  int64_t lg = 1;
  while ((int64_t(1) << lg) < n) ++lg;
  return grain_for_work(n * lg);
}

// Writes `count` transform outputs (split re / im, scaled, conjugated when `conj`) as the
// interleaved row y of out_len elements, zero-padded.
template <class T>
void store_complex(const T* re, const T* im, int64_t count, T* y, int64_t out_len, T scale,
                   bool conj) {
  int64_t c = std::min(count, out_len);
  T si = conj ? -scale : scale;
  for (int64_t k = 0; k < c; ++k) {
    y[2 * k] = re[k] * scale;
    y[2 * k + 1] = im[k] * si;
  }
  std::fill(y + 2 * c, y + 2 * out_len, T(0));
}

// Reads the interleaved row x of in_len elements into split re / im of `count` values,
// zero-padded, conjugated when `conj`.
template <class T>
void load_complex(const T* x, int64_t in_len, T* re, T* im, int64_t count, bool conj) {
  int64_t c = std::min(count, in_len);
  for (int64_t j = 0; j < c; ++j) {
    re[j] = x[2 * j];
    im[j] = conj ? -x[2 * j + 1] : x[2 * j + 1];
  }
  std::fill(re + c, re + count, T(0));
  std::fill(im + c, im + count, T(0));
}

}  // namespace

template <class T>
void c2c_rows(const T* x, int64_t in_len, T* y, int64_t out_len, int64_t rows, int64_t n,
              bool inverse, T scale) {
  auto plan = complex_plan<T>(n);
  parallel_for(0, rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    std::vector<T> buf(size_t(2 * n + plan->work_size()));
    T* re = buf.data();
    T* im = re + n;
    T* work = im + n;
    for (int64_t r = r0; r < r1; ++r) {
      // The inverse transform as conj(DFT(conj x)).
      load_complex(x + 2 * r * in_len, in_len, re, im, n, inverse);
      plan->run(re, im, work);
      store_complex(re, im, n, y + 2 * r * out_len, out_len, scale, inverse);
    }
  });
}

template <class T>
void r2c_rows(const T* x, int64_t in_len, T* y, int64_t out_len, int64_t rows, int64_t n, T scale) {
  auto plan = real_plan<T>(n);
  const int64_t F = n / 2 + 1;
  parallel_for(0, rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    std::vector<T> buf(size_t(n + 2 * F + plan->work_size()));
    T* xin = buf.data();
    T* re = xin + n;
    T* im = re + F;
    T* work = im + F;
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * in_len;
      if (in_len < n) {  // zero-padded copy; a long enough row is read in place
        std::copy(xr, xr + in_len, xin);
        std::fill(xin + in_len, xin + n, T(0));
        xr = xin;
      }
      plan->forward(xr, re, im, work);
      store_complex(re, im, F, y + 2 * r * out_len, out_len, scale, false);
    }
  });
}

template <class T>
void c2r_rows(const T* x, int64_t in_len, T* y, int64_t out_len, int64_t rows, int64_t n, T scale) {
  auto plan = real_plan<T>(n);
  const int64_t F = n / 2 + 1;
  parallel_for(0, rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    std::vector<T> buf(size_t(n + 2 * F + plan->work_size()));
    T* xout = buf.data();
    T* re = xout + n;
    T* im = re + F;
    T* work = im + F;
    for (int64_t r = r0; r < r1; ++r) {
      load_complex(x + 2 * r * in_len, in_len, re, im, F, false);
      plan->inverse(re, im, xout, work);
      T* yr = y + r * out_len;
      int64_t c = std::min(n, out_len);
      for (int64_t j = 0; j < c; ++j) yr[j] = xout[j] * scale;
      std::fill(yr + c, yr + out_len, T(0));
    }
  });
}

#define SSM_FFT_INSTANTIATE(T)                                                                    \
  template class ComplexPlan<T>;                                                                  \
  template class RealPlan<T>;                                                                     \
  template std::shared_ptr<const ComplexPlan<T>> complex_plan<T>(int64_t);                        \
  template std::shared_ptr<const RealPlan<T>> real_plan<T>(int64_t);                              \
  template void c2c_rows<T>(const T*, int64_t, T*, int64_t, int64_t, int64_t, bool, T);           \
  template void r2c_rows<T>(const T*, int64_t, T*, int64_t, int64_t, int64_t, T);                 \
  template void c2r_rows<T>(const T*, int64_t, T*, int64_t, int64_t, int64_t, T);
SSM_FFT_INSTANTIATE(float)
SSM_FFT_INSTANTIATE(double)
#undef SSM_FFT_INSTANTIATE

}  // namespace ssm::fft_cpu
