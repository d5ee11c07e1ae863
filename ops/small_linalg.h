// Dense linear algebra on one small matrix, written once for the CPU (one thread per matrix:
// ops/matrix_exp.cpp, ops/solve.cpp) and CUDA (one thread block per matrix: ops/cuda/
// matrix_exp.cu, ops/cuda/solve.cu): LU with partial pivoting and its solves, and the matrix
// exponential by scaling and squaring with Padé approximants.
//
// Matrices are row-major, n x n (right-hand sides n x m), in the compute type C (float or
// double), in memory the caller provides. The work is split over a Team:
//   team.for_each(count, f)  calls f(i) for i in [0, count), spread over the team's threads
//   team.sync()              a barrier: what any thread wrote is visible to all after it
//   team.leader()            true on exactly one thread (for the short sequential steps)
// SerialTeam is the CPU's one-thread team; CUDA's block team is in ops/cuda/block_team.cuh.
// Every function ends with a sync, so its results are visible to the whole team on return.
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "core/dtype.h"  // SSM_HD

namespace ssm::linalg {

struct SerialTeam {
  template <class F>
  SSM_HD void for_each(int64_t count, const F& f) const {
    for (int64_t i = 0; i < count; ++i) f(i);
  }
  SSM_HD void sync() const {}
  SSM_HD bool leader() const { return true; }
};

// c (n x n) = a b. c must not alias a or b.
template <class C, class Team>
SSM_HD void matmul(const Team& team, int64_t n, const C* a, const C* b, C* c) {
  if constexpr (std::is_same_v<Team, SerialTeam>) {
    // One thread: rows of c accumulated from rows of b, a loop the compiler vectorises.
    for (int64_t i = 0; i < n; ++i) {
      C* ci = c + i * n;
      for (int64_t j = 0; j < n; ++j) ci[j] = C(0);
      for (int64_t k = 0; k < n; ++k) {
        const C aik = a[i * n + k];
        const C* bk = b + k * n;
        for (int64_t j = 0; j < n; ++j) ci[j] += aik * bk[j];
      }
    }
    return;
  }
  team.for_each(n * n, [&](int64_t idx) {
    int64_t i = idx / n, j = idx - i * n;
    C s = C(0);
    for (int64_t k = 0; k < n; ++k) s += a[i * n + k] * b[k * n + j];
    c[idx] = s;
  });
  team.sync();
}

// ---- LU with partial pivoting ---------------------------------------------------------------

// Factorises a (n x n) in place into P a = L U (L unit lower triangular below the diagonal, U on
// and above it), as LAPACK's getrf: piv[k] is the row swapped with row k at step k. Returns
// (on every thread) the number of the first zero pivot plus one, or 0 when none was zero (a
// zero pivot is left in U: solves then give infinities or NaN, as the caller decides).
template <class C, class Team>
SSM_HD int64_t lu_factor(const Team& team, int64_t n, C* a, int32_t* piv) {
  for (int64_t k = 0; k < n; ++k) {
    if (team.leader()) {  // the pivot: the largest |a[i, k]| at or below the diagonal
      int64_t p = k;
      C best = std::fabs(a[k * n + k]);
      for (int64_t i = k + 1; i < n; ++i) {
        C v = std::fabs(a[i * n + k]);
        if (v > best) {
          best = v;
          p = i;
        }
      }
      piv[k] = int32_t(p);
    }
    team.sync();
    int64_t p = piv[k];
    if (p != k)
      team.for_each(n, [&](int64_t j) {
        C t = a[k * n + j];
        a[k * n + j] = a[p * n + j];
        a[p * n + j] = t;
      });
    team.sync();
    C pivot = a[k * n + k];
    if (pivot != C(0)) {
      C inv = C(1) / pivot;
      team.for_each(n - k - 1, [&](int64_t i) { a[(k + 1 + i) * n + k] *= inv; });
      team.sync();
      int64_t r = n - k - 1;
      team.for_each(r * r, [&](int64_t idx) {
        int64_t i = k + 1 + idx / r, j = k + 1 + idx % r;
        a[i * n + j] -= a[i * n + k] * a[k * n + j];
      });
    }
    team.sync();
  }
  for (int64_t k = 0; k < n; ++k)
    if (a[k * n + k] == C(0)) return k + 1;
  return 0;
}

// b (n x m) := A⁻¹ b, with lu, piv from lu_factor of A: the row swaps, then L y = P b forward,
// then U x = y backward. One thread per column of b.
template <class C, class Team>
SSM_HD void lu_solve(const Team& team, int64_t n, int64_t m, const C* lu, const int32_t* piv,
                     C* b) {
  team.for_each(m, [&](int64_t j) {
    for (int64_t k = 0; k < n; ++k) {
      int64_t p = piv[k];
      if (p != k) {
        C t = b[k * m + j];
        b[k * m + j] = b[p * m + j];
        b[p * m + j] = t;
      }
    }
    for (int64_t i = 1; i < n; ++i) {
      C s = b[i * m + j];
      for (int64_t k = 0; k < i; ++k) s -= lu[i * n + k] * b[k * m + j];
      b[i * m + j] = s;
    }
    for (int64_t i = n - 1; i >= 0; --i) {
      C s = b[i * m + j];
      for (int64_t k = i + 1; k < n; ++k) s -= lu[i * n + k] * b[k * m + j];
      b[i * m + j] = s / lu[i * n + i];
    }
  });
  team.sync();
}

// b (n x m) := A⁻ᵀ b, with the factors of A: from P A = L U, Aᵀ = Uᵀ Lᵀ P, so Uᵀ z = b forward,
// Lᵀ w = z backward, then the row swaps undone in reverse order.
template <class C, class Team>
SSM_HD void lu_solve_transposed(const Team& team, int64_t n, int64_t m, const C* lu,
                                const int32_t* piv, C* b) {
  team.for_each(m, [&](int64_t j) {
    for (int64_t i = 0; i < n; ++i) {
      C s = b[i * m + j];
      for (int64_t k = 0; k < i; ++k) s -= lu[k * n + i] * b[k * m + j];
      b[i * m + j] = s / lu[i * n + i];
    }
    for (int64_t i = n - 2; i >= 0; --i) {
      C s = b[i * m + j];
      for (int64_t k = i + 1; k < n; ++k) s -= lu[k * n + i] * b[k * m + j];
      b[i * m + j] = s;
    }
    for (int64_t k = n - 1; k >= 0; --k) {
      int64_t p = piv[k];
      if (p != k) {
        C t = b[k * m + j];
        b[k * m + j] = b[p * m + j];
        b[p * m + j] = t;
      }
    }
  });
  team.sync();
}

// ---- the matrix exponential -----------------------------------------------------------------
//
// Higham, "The Scaling and Squaring Method for the Matrix Exponential Revisited", SIAM J. Matrix
// Anal. Appl. 26(4), 2005, Algorithm 2.3: with ‖A‖₁ at most θ_m, the [m/m] Padé approximant
// r_m(A) = (V - U)⁻¹ (V + U) (U the odd part, V the even part of the numerator) has a backward
// error ‖ΔA‖ / ‖A‖ below the unit roundoff of C (in exact arithmetic: exp(A + ΔA) = r_m(A)); for
// larger norms A is scaled by 2^-s into range and the result squared s times. The θ_m are the
// paper's Table 2.3 (double: m = 3, 5, 7, 9, 13; single: m = 3, 5, 7), the b_j its Padé
// numerator coefficients, b_j = (2m - j)! m! / ((2m)! j! (m - j)!) scaled to integers.

// The degrees tried, in order, and the largest ‖A‖₁ each takes (θ_m).
template <class C>
SSM_HD int pade_count() {
  return sizeof(C) == sizeof(double) ? 5 : 3;
}
SSM_HD int pade_degree(int k) {
  switch (k) {
    case 0: return 3;
    case 1: return 5;
    case 2: return 7;
    case 3: return 9;
    default: return 13;
  }
}
template <class C>
SSM_HD C pade_theta(int k) {
  if (sizeof(C) == sizeof(double)) {
    switch (k) {
      case 0: return C(1.495585217958292e-2);
      case 1: return C(2.539398330063230e-1);
      case 2: return C(9.504178996162932e-1);
      case 3: return C(2.097847961257068e0);
      default: return C(5.371920351148152e0);
    }
  }
  switch (k) {
    case 0: return C(4.258730016922831e-1);
    case 1: return C(1.880152677804762e0);
    default: return C(3.925724783138660e0);
  }
}

// b_0 .. b_m of the degree-m numerator, m in {3, 5, 7, 9, 13}, into b.
template <class C>
SSM_HD void pade_coefficients(int m, C* b) {
  const double b3[] = {120, 60, 12, 1};
  const double b5[] = {30240, 15120, 3360, 420, 30, 1};
  const double b7[] = {17297280, 8648640, 1995840, 277200, 25200, 1512, 56, 1};
  const double b9[] = {17643225600., 8821612800., 2075673600., 302702400., 30270240.,
                       2162160.,     110880.,     3960.,       90.,        1.};
  const double b13[] = {64764752532480000., 32382376266240000., 7771770303897600.,
                        1187353796428800.,  129060195264000.,   10559470521600.,
                        670442572800.,      33522128640.,       1323241920.,
                        40840800.,          960960.,            16380.,
                        182.,               1.};
  const double* src = m == 3 ? b3 : m == 5 ? b5 : m == 7 ? b7 : m == 9 ? b9 : b13;
  for (int j = 0; j <= 13; ++j) b[j] = j <= m ? C(src[j]) : C(0);
}

// Scratch a matrix_exp of size n needs: this many C, and n int32 (the pivots).
SSM_HD int64_t matrix_exp_scratch(int64_t n) { return 6 * n * n + n + 2; }

// out (n x n) = exp(a) (a n x n, left unchanged). w: matrix_exp_scratch(n) C; piv: n int32.
// out must not alias a. A non-finite norm (an input with NaN or ±inf) gives NaN throughout.
template <class C, class Team>
SSM_HD void matrix_exp(const Team& team, int64_t n, const C* a, C* out, C* w, int32_t* piv) {
  const int64_t nn = n * n;
  C* s1 = w;           // the scaled A, then scratch
  C* a2 = w + nn;      // A²
  C* a4 = w + 2 * nn;  // A⁴
  C* a6 = w + 3 * nn;  // A⁶ (A⁸ for m = 9)
  C* u = w + 4 * nn;   // U, then V + U
  C* v = w + 5 * nn;   // V, then V - U, then its LU
  C* colsum = w + 6 * nn;  // n column sums, then the norm and the squaring count
  // ‖A‖₁ = the largest column sum of |a|.
  team.for_each(n, [&](int64_t j) {
    C s = C(0);
    for (int64_t i = 0; i < n; ++i) s += std::fabs(a[i * n + j]);
    colsum[j] = s;
  });
  team.sync();
  if (team.leader()) {
    C norm = C(0);
    bool finite = true;
    for (int64_t j = 0; j < n; ++j) {
      finite = finite && std::isfinite(colsum[j]);
      norm = colsum[j] > norm ? colsum[j] : norm;
    }
    const int last = pade_count<C>() - 1;
    int m_index = last;
    C squarings = C(0);
    if (finite) {
      for (int k = last; k >= 0; --k)
        if (norm <= pade_theta<C>(k)) m_index = k;
      if (norm > pade_theta<C>(last))  // s = ceil(log2(‖A‖ / θ_max)), so ‖A / 2^s‖ <= θ_max
        squarings = std::ceil(std::log2(norm / pade_theta<C>(last)));
    } else {
      squarings = C(-1);  // flags the NaN result
    }
    colsum[n] = C(m_index);
    colsum[n + 1] = squarings;
  }
  team.sync();
  const int m = pade_degree(int(colsum[n]));
  const C sq = colsum[n + 1];
  if (sq < C(0)) {
    team.for_each(nn, [&](int64_t i) { out[i] = C(NAN); });
    team.sync();
    return;
  }
  const int squarings = int(sq);
  const C scale = std::ldexp(C(1), -squarings);
  team.for_each(nn, [&](int64_t i) { s1[i] = a[i] * scale; });
  team.sync();
  matmul(team, n, s1, s1, a2);
  if (m >= 5) matmul(team, n, a2, a2, a4);
  if (m >= 7) matmul(team, n, a4, a2, a6);
  C bc[14];
  pade_coefficients(m, bc);
  auto b = [&bc](int j) { return bc[j]; };
  auto diag = [n](int64_t i) { return i / n == i % n ? C(1) : C(0); };
  if (m == 13) {
    // U = A [A⁶ (b13 A⁶ + b11 A⁴ + b9 A²) + b7 A⁶ + b5 A⁴ + b3 A² + b1 I]
    // V = A⁶ (b12 A⁶ + b10 A⁴ + b8 A²) + b6 A⁶ + b4 A⁴ + b2 A² + b0 I
    team.for_each(nn, [&](int64_t i) {
      u[i] = b(13) * a6[i] + b(11) * a4[i] + b(9) * a2[i];
      v[i] = b(12) * a6[i] + b(10) * a4[i] + b(8) * a2[i];
    });
    team.sync();
    C* t = out;  // out is free until the end: scratch here
    matmul(team, n, a6, u, t);
    team.for_each(nn, [&](int64_t i) {
      t[i] += b(7) * a6[i] + b(5) * a4[i] + b(3) * a2[i] + b(1) * diag(i);
    });
    team.sync();
    matmul(team, n, s1, t, u);
    matmul(team, n, a6, v, t);
    team.for_each(nn, [&](int64_t i) {
      v[i] = t[i] + b(6) * a6[i] + b(4) * a4[i] + b(2) * a2[i] + b(0) * diag(i);
    });
    team.sync();
  } else {
    // U = A Σ_{odd j} b_j A^{j-1}, V = Σ_{even j} b_j A^j, with A⁸ = (A⁴)² for m = 9.
    C* a8 = nullptr;
    if (m == 9) {
      a8 = out;  // scratch until the end
      matmul(team, n, a4, a4, a8);
    }
    team.for_each(nn, [&](int64_t i) {
      C odd = b(1) * diag(i) + b(3) * a2[i];
      C even = b(0) * diag(i) + b(2) * a2[i];
      if (m >= 5) {
        odd += b(5) * a4[i];
        even += b(4) * a4[i];
      }
      if (m >= 7) {
        odd += b(7) * a6[i];
        even += b(6) * a6[i];
      }
      if (m >= 9) {
        odd += b(9) * a8[i];
        even += b(8) * a8[i];
      }
      v[i] = even;
      a2[i] = odd;  // A² is not needed any more
    });
    team.sync();
    matmul(team, n, s1, a2, u);
  }
  // r_m = (V - U)⁻¹ (V + U)
  team.for_each(nn, [&](int64_t i) {
    C vi = v[i], ui = u[i];
    v[i] = vi - ui;
    u[i] = vi + ui;
  });
  team.sync();
  lu_factor(team, n, v, piv);
  lu_solve(team, n, n, v, piv, u);
  // Square s times, alternating between u and s1, ending in out.
  C* cur = u;
  C* other = s1;
  for (int k = 0; k < squarings; ++k) {
    C* dst = k == squarings - 1 ? out : other;
    matmul(team, n, cur, cur, dst);
    other = cur;
    cur = dst;
  }
  if (squarings == 0) {
    team.for_each(nn, [&](int64_t i) { out[i] = u[i]; });
    team.sync();
  }
}

}  // namespace ssm::linalg
