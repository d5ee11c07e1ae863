// HiPPO matrices, their diagonalised normal-plus-low-rank forms and the S4D / S5
// initialisations (the maths and sources: nn/hippo.h). Host code, float64, run once at
// initialisation; the one eigensolver is LAPACK's zheevd from OpenBLAS.
#include "nn/hippo.h"

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "core/error.h"
#include "core/suggest.h"

// LAPACK (OpenBLAS ships it): the eigenvalues, ascending, and eigenvectors of a Hermitian
// matrix, column-major. The trailing lengths are gfortran's hidden string-length arguments.
extern "C" void zheevd_(const char* jobz, const char* uplo, const int* n, std::complex<double>* a,
                        const int* lda, double* w, std::complex<double>* work, const int* lwork,
                        double* rwork, const int* lrwork, int* iwork, const int* liwork,
                        int* info, size_t jobz_len, size_t uplo_len);

namespace ssm::nn {

namespace {

using cd = std::complex<double>;
constexpr double kPi = std::numbers::pi;

// Row-major n x n.
struct Mat {
  int64_t n = 0;
  std::vector<double> v;
  explicit Mat(int64_t size) : n(size), v(size_t(size * size), 0.0) {}
  double& operator()(int64_t i, int64_t j) { return v[size_t(i * n + j)]; }
  double operator()(int64_t i, int64_t j) const { return v[size_t(i * n + j)]; }
};

Tensor real_tensor(const std::vector<double>& v, const Shape& shape) {
  return Tensor::from_vector(v, shape);
}

// Complex values (row-major over `shape`) as a float64 tensor of shape + (2).
Tensor complex_tensor(const std::vector<cd>& v, Shape shape) {
  std::vector<double> out(2 * v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    out[2 * i] = v[i].real();
    out[2 * i + 1] = v[i].imag();
  }
  shape.push_back(2);
  return Tensor::from_vector(out, shape);
}

void check_size(int64_t N, const char* what) {
  SSM_CHECK(N >= 1, what, ": the state size N must be at least 1, got ", N);
}

// fout's b: the basis functions at the window's ends: 1 (the mean), √2 (each cosine), 0 (sines).
std::vector<double> fout_b(int64_t N) {
  std::vector<double> b(static_cast<size_t>(N), 0.0);
  for (int64_t n = 0; n < N; n += 2) b[size_t(n)] = n == 0 ? 1.0 : std::sqrt(2.0);
  return b;
}

void check_measure(HippoMeasure m, int64_t N, double theta, const char* what) {
  check_size(N, what);
  SSM_CHECK(theta > 0 && std::isfinite(theta), what, ": the timescale theta must be > 0, got ",
            theta);
  SSM_CHECK(m != HippoMeasure::legs || theta == 1.0, what,
            ": legs has no timescale (it scales with t), so theta must be 1, got ", theta);
  SSM_CHECK(m != HippoMeasure::fout || N % 2 == 0, what,
            ": fout needs an even state size N (a mean, an unused state, then cosine / sine "
            "pairs), got ",
            N);
}

Mat hippo_A(HippoMeasure m, int64_t N, double theta, std::vector<double>& B) {
  Mat A(N);
  B.assign(size_t(N), 0.0);
  auto r = [](int64_t n) { return std::sqrt(double(2 * n + 1)); };
  switch (m) {
    case HippoMeasure::legs:
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < n; ++k) A(n, k) = -r(n) * r(k);
        A(n, n) = -double(n + 1);
        B[size_t(n)] = r(n);
      }
      break;
    case HippoMeasure::legt:
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < N; ++k) {
          double sign = k <= n || (k - n) % 2 == 0 ? 1.0 : -1.0;
          A(n, k) = -sign * r(n) * r(k) / theta;
        }
        B[size_t(n)] = r(n) / theta;
      }
      break;
    case HippoMeasure::lagt:
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k <= n; ++k) A(n, k) = -1.0 / theta;
        B[size_t(n)] = 1.0 / theta;
      }
      break;
    case HippoMeasure::fout: {
      std::vector<double> b = fout_b(N);
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t k = 0; k < N; ++k) A(n, k) = -2.0 * b[size_t(n)] * b[size_t(k)] / theta;
        B[size_t(n)] = 2.0 * b[size_t(n)] / theta;
      }
      for (int64_t j = 1; 2 * j + 1 < N; ++j) {
        A(2 * j, 2 * j + 1) += -2.0 * kPi * double(j) / theta;
        A(2 * j + 1, 2 * j) += 2.0 * kPi * double(j) / theta;
      }
      break;
    }
  }
  return A;
}

// P (r, N), row-major.
std::vector<std::vector<double>> rank_correction(HippoMeasure m, int64_t N, double theta) {
  switch (m) {
    case HippoMeasure::legs: {
      std::vector<double> p(static_cast<size_t>(N));
      for (int64_t n = 0; n < N; ++n) p[size_t(n)] = std::sqrt(double(n) + 0.5);
      return {p};
    }
    case HippoMeasure::legt: {
      std::vector<double> odd(static_cast<size_t>(N), 0.0), even(size_t(N), 0.0);
      for (int64_t n = 0; n < N; ++n)
        (n % 2 ? odd : even)[size_t(n)] = std::sqrt(double(2 * n + 1) / theta);
      return {odd, even};
    }
    case HippoMeasure::lagt:
      return {std::vector<double>(size_t(N), std::sqrt(0.5 / theta))};
    case HippoMeasure::fout: {
      std::vector<double> p = fout_b(N);
      for (double& x : p) x *= std::sqrt(2.0 / theta);
      return {p};
    }
  }
  return {};
}

// Eigenvalues (ascending) and eigenvectors (columns, row-major n x n) of the Hermitian h
// (row-major), by LAPACK's zheevd.
void hermitian_eig(int64_t n, const std::vector<cd>& h, std::vector<double>& w,
                   std::vector<cd>& vecs) {
  SSM_CHECK(n < (int64_t(1) << 15), "nplr: state size ", n, " is too large for the eigensolver");
  int ni = int(n), info = 0;
  std::vector<cd> a(static_cast<size_t>(n * n));  // column-major
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[size_t(j * n + i)] = h[size_t(i * n + j)];
  w.assign(size_t(n), 0.0);
  // Workspace query, then the solve.
  cd work_q;
  double rwork_q = 0;
  int iwork_q = 0, minus1 = -1;
  zheevd_("V", "L", &ni, a.data(), &ni, w.data(), &work_q, &minus1, &rwork_q, &minus1, &iwork_q,
          &minus1, &info, 1, 1);
  SSM_CHECK(info == 0, "nplr: LAPACK zheevd's workspace query failed (info ", info, ")");
  int lwork = std::max(1, int(work_q.real())), lrwork = std::max(1, int(rwork_q)),
      liwork = std::max(1, iwork_q);
  std::vector<cd> work(static_cast<size_t>(lwork));
  std::vector<double> rwork(static_cast<size_t>(lrwork));
  std::vector<int> iwork(static_cast<size_t>(liwork));
  zheevd_("V", "L", &ni, a.data(), &ni, w.data(), work.data(), &lwork, rwork.data(), &lrwork,
          iwork.data(), &liwork, &info, 1, 1);
  SSM_CHECK(info == 0, "nplr: LAPACK zheevd did not converge (info ", info, ") for N = ", n);
  vecs.resize(size_t(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) vecs[size_t(i * n + j)] = a[size_t(j * n + i)];
}

// The modes kept by nplr: eigenvalues and eigenvectors (N x M, row-major) of S = c I + K.
struct Modes {
  int64_t M = 0;
  std::vector<cd> lambda, V;
};

Modes diagonalise(const Mat& S, bool conj_sym) {
  const int64_t N = S.n;
  double c = 0, scale = 0;
  for (int64_t i = 0; i < N; ++i) c += S(i, i) / double(N);
  for (double x : S.v) scale = std::max(scale, std::fabs(x));
  // K = S - c I must be skew-symmetric (true of every measure here; this guards the maths).
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j <= i; ++j) {
      double sym = S(i, j) + S(j, i) - (i == j ? 2 * c : 0.0);
      SSM_CHECK(std::fabs(sym) <= 1e-12 * std::max(1.0, scale), "nplr: A + PᵀP is not c I plus a "
                "skew-symmetric matrix (entry (", i, ", ", j, ") off by ", sym, ")");
    }
  // -iK is Hermitian; K v = iμ v.
  std::vector<cd> h(static_cast<size_t>(N * N));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t j = 0; j < N; ++j) h[size_t(i * N + j)] = cd(0, -(S(i, j) - (i == j ? c : 0.0)));
  std::vector<double> mu;
  std::vector<cd> Z;
  hermitian_eig(N, h, mu, Z);
  Modes out;
  if (!conj_sym) {
    out.M = N;
    for (int64_t m = 0; m < N; ++m) out.lambda.push_back(cd(c, mu[size_t(m)]));
    out.V = Z;
    return out;
  }
  SSM_CHECK(N % 2 == 0, "nplr: conjugate symmetry keeps N/2 modes: N must be even, got ", N);
  double tol = 1e-9 * std::max(1.0, std::max(std::fabs(mu.front()), std::fabs(mu.back())));
  std::vector<int64_t> negative, zero;
  int64_t positive = 0;
  for (int64_t m = 0; m < N; ++m) {
    if (mu[size_t(m)] < -tol)
      negative.push_back(m);
    else if (mu[size_t(m)] <= tol)
      zero.push_back(m);
    else
      ++positive;
  }
  SSM_CHECK(int64_t(negative.size()) == positive && zero.size() % 2 == 0,
            "nplr: the eigenvalues of the normal part do not pair up (", negative.size(),
            " below 0, ", zero.size(), " at 0, ", positive, " above)");
  out.M = N / 2;
  out.V.assign(size_t(N * out.M), cd(0));
  int64_t col = 0;
  for (int64_t m : negative) {
    out.lambda.push_back(cd(c, mu[size_t(m)]));
    for (int64_t i = 0; i < N; ++i) out.V[size_t(i * out.M + col)] = Z[size_t(i * N + m)];
    ++col;
  }
  // The eigenspace of μ = 0 is spanned by real vectors (K is real): Gram-Schmidt on the real and
  // imaginary parts of its eigenvectors, then pairs (u + iw)/√2.
  std::vector<std::vector<double>> basis;
  for (int64_t m : zero)
    for (int part = 0; part < 2; ++part) {
      std::vector<double> x(static_cast<size_t>(N));
      for (int64_t i = 0; i < N; ++i) {
        cd z = Z[size_t(i * N + m)];
        x[size_t(i)] = part ? z.imag() : z.real();
      }
      for (int pass = 0; pass < 2; ++pass)  // twice: orthogonal to rounding
        for (const auto& u : basis) {
          double d = 0;
          for (int64_t i = 0; i < N; ++i) d += u[size_t(i)] * x[size_t(i)];
          for (int64_t i = 0; i < N; ++i) x[size_t(i)] -= d * u[size_t(i)];
        }
      double norm = 0;
      for (double xi : x) norm += xi * xi;
      norm = std::sqrt(norm);
      if (norm > 1e-6 && basis.size() < zero.size()) {
        for (double& xi : x) xi /= norm;
        basis.push_back(x);
      }
    }
  SSM_CHECK(basis.size() == zero.size(), "nplr: could not build a real basis of the ",
            zero.size(), " modes with Im λ = 0");
  for (size_t p = 0; p + 1 < basis.size(); p += 2) {
    out.lambda.push_back(cd(c, 0));
    for (int64_t i = 0; i < N; ++i)
      out.V[size_t(i * out.M + col)] =
          cd(basis[p][size_t(i)], basis[p + 1][size_t(i)]) / std::sqrt(2.0);
    ++col;
  }
  return out;
}

// y (M) = Vᴴ x for V (N x M) row-major.
std::vector<cd> adjoint_times(const std::vector<cd>& V, int64_t N, int64_t M,
                              const std::vector<double>& x) {
  std::vector<cd> y(static_cast<size_t>(M), cd(0));
  for (int64_t i = 0; i < N; ++i)
    for (int64_t m = 0; m < M; ++m) y[size_t(m)] += std::conj(V[size_t(i * M + m)]) * x[size_t(i)];
  return y;
}

}  // namespace

HippoMeasure parse_hippo_measure(const std::string& s) {
  if (s == "legs") return HippoMeasure::legs;
  if (s == "legt") return HippoMeasure::legt;
  if (s == "lagt") return HippoMeasure::lagt;
  if (s == "fout") return HippoMeasure::fout;
  SSM_FAIL("HiPPO measure ", quote_word(s), " is not one of legs, legt, lagt, fout",
           did_you_mean(s, {"legs", "legt", "lagt", "fout"}));
}

const char* hippo_measure_name(HippoMeasure m) {
  switch (m) {
    case HippoMeasure::legs: return "legs";
    case HippoMeasure::legt: return "legt";
    case HippoMeasure::lagt: return "lagt";
    case HippoMeasure::fout: return "fout";
  }
  return "?";
}

Hippo hippo(HippoMeasure m, int64_t N, double theta) {
  check_measure(m, N, theta, "hippo");
  std::vector<double> B;
  Mat A = hippo_A(m, N, theta, B);
  return {real_tensor(A.v, {N, N}), real_tensor(B, {N})};
}

Tensor hippo_rank_correction(HippoMeasure m, int64_t N, double theta) {
  check_measure(m, N, theta, "hippo_rank_correction");
  std::vector<std::vector<double>> P = rank_correction(m, N, theta);
  std::vector<double> flat;
  for (const auto& row : P) flat.insert(flat.end(), row.begin(), row.end());
  return real_tensor(flat, {int64_t(P.size()), N});
}

Nplr nplr(HippoMeasure m, int64_t N, bool conj_sym, double theta) {
  check_measure(m, N, theta, "nplr");
  std::vector<double> B;
  Mat S = hippo_A(m, N, theta, B);
  std::vector<std::vector<double>> P = rank_correction(m, N, theta);
  for (const auto& p : P)
    for (int64_t i = 0; i < N; ++i)
      for (int64_t j = 0; j < N; ++j) S(i, j) += p[size_t(i)] * p[size_t(j)];
  Modes modes = diagonalise(S, conj_sym);
  const int64_t M = modes.M, r = int64_t(P.size());
  std::vector<cd> Pt;
  for (const auto& p : P) {
    std::vector<cd> row = adjoint_times(modes.V, N, M, p);
    Pt.insert(Pt.end(), row.begin(), row.end());
  }
  return {complex_tensor(modes.lambda, {M}), complex_tensor(Pt, {r, M}),
          complex_tensor(adjoint_times(modes.V, N, M, B), {M}), complex_tensor(modes.V, {N, M})};
}

S4dInit parse_s4d_init(const std::string& s) {
  if (s == "legs") return S4dInit::legs;
  if (s == "inv") return S4dInit::inv;
  if (s == "lin") return S4dInit::lin;
  if (s == "real") return S4dInit::real;
  SSM_FAIL("S4D initialisation ", quote_word(s), " is not one of legs, inv, lin, real",
           did_you_mean(s, {"legs", "inv", "lin", "real"}));
}

const char* s4d_init_name(S4dInit init) {
  switch (init) {
    case S4dInit::legs: return "legs";
    case S4dInit::inv: return "inv";
    case S4dInit::lin: return "lin";
    case S4dInit::real: return "real";
  }
  return "?";
}

Tensor s4d_init(S4dInit init, int64_t N) {
  SSM_CHECK(N >= 2 && N % 2 == 0, "s4d_init: the state size N must be even (N/2 conjugate "
            "pairs are kept), got ", N);
  const int64_t M = N / 2;
  std::vector<cd> lambda(static_cast<size_t>(M));
  if (init == S4dInit::legs) {
    std::vector<double> v = nplr(HippoMeasure::legs, N, true).Lambda.to_vector<double>();
    for (int64_t n = 0; n < M; ++n) lambda[size_t(n)] = cd(v[size_t(2 * n)], -v[size_t(2 * n + 1)]);
  } else {
    for (int64_t n = 0; n < M; ++n) {
      double x = double(n), Nd = double(N);
      switch (init) {
        case S4dInit::inv: lambda[size_t(n)] = cd(-0.5, Nd / kPi * (Nd / (2 * x + 1) - 1)); break;
        case S4dInit::lin: lambda[size_t(n)] = cd(-0.5, kPi * x); break;
        default: lambda[size_t(n)] = cd(-(x + 1), 0); break;
      }
    }
  }
  return complex_tensor(lambda, {M});
}

S5Init s5_init(int64_t N, int64_t blocks, bool conj_sym) {
  SSM_CHECK(blocks >= 1 && N >= 1 && N % blocks == 0, "s5_init: the state size N = ", N,
            " must split into `blocks` = ", blocks, " equal blocks");
  const int64_t size = N / blocks;
  SSM_CHECK(!conj_sym || size % 2 == 0, "s5_init: with conjugate symmetry each block keeps half "
            "its modes, so N / blocks = ", size, " must be even");
  Nplr block = nplr(HippoMeasure::legs, size, conj_sym);
  const int64_t Mb = block.Lambda.size(0), M = Mb * blocks;
  std::vector<double> lam = block.Lambda.to_vector<double>(), vb = block.V.to_vector<double>();
  std::vector<double> Lambda, V(size_t(N * M * 2), 0.0), Vinv(size_t(M * N * 2), 0.0);
  for (int64_t j = 0; j < blocks; ++j) {
    Lambda.insert(Lambda.end(), lam.begin(), lam.end());
    for (int64_t i = 0; i < size; ++i)
      for (int64_t m = 0; m < Mb; ++m) {
        double re = vb[size_t((i * Mb + m) * 2)], im = vb[size_t((i * Mb + m) * 2 + 1)];
        int64_t row = j * size + i, colm = j * Mb + m;
        V[size_t((row * M + colm) * 2)] = re;
        V[size_t((row * M + colm) * 2 + 1)] = im;
        Vinv[size_t((colm * N + row) * 2)] = re;  // Vᴴ: transposed and conjugated
        Vinv[size_t((colm * N + row) * 2 + 1)] = -im;
      }
  }
  return {real_tensor(Lambda, {M, 2}), real_tensor(V, {N, M, 2}), real_tensor(Vinv, {M, N, 2})};
}

}  // namespace ssm::nn
