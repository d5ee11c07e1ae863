// HiPPO matrices and the initialisations of the structured SSMs built on them (S4, S4D, S5).
//
// Convention: x'(t) = A x(t) + B u(t), A carrying the minus sign (the HiPPO paper writes
// x' = -A x + B u). N is the state size. Everything is float64 and made once, at
// initialisation; complex values are real tensors with a trailing dim of 2 (real, imaginary),
// as torch.view_as_real gives.
//
// The measures (HiPPO: Gu, Dao, Ermon, Rudra & Ré, "HiPPO: Recurrent Memory with Optimal
// Polynomial Projections", NeurIPS 2020, Theorem 1 and Appendix D; "How to Train Your HiPPO",
// Gu, Johnson, Timalsina, Rudra & Ré, ICLR 2023, for FouT), with θ the timescale:
//   legs  scaled Legendre, the history [0, t] uniformly (no timescale: θ must be 1)
//           A_nk = -√(2n+1)√(2k+1) (n > k), -(n+1) (n = k), 0 (n < k);  B_n = √(2n+1)
//           (applied as x' = (1/t)(A x + B u) it projects u onto Legendre polynomials on
//           [0, t]; S4 uses it time-invariantly)
//   legt  translated Legendre, the window [t-θ, t], orthonormal Legendre basis
//           A_nk = -(1/θ)√(2n+1)√(2k+1) · (1 if k <= n, (-1)^(n-k) if k > n);  B_n = √(2n+1)/θ
//   lagt  translated Laguerre, the history weighted by e^{-(t-s)/θ}
//           A_nk = -(1/θ) (1 if k <= n, 0 if k > n);  B_n = 1/θ
//   fout  translated Fourier, the window [t-θ, t]; states (N even) are: 0 the mean, 1 unused
//         (the sine of frequency 0, always 0), then (2j, 2j+1) the cosine and sine of frequency
//         j / θ, j = 1 .. N/2 - 1 (the S4 repository's layout); with b = (1, 0, √2, 0, √2, 0, ...)
//         the basis functions' values at the window's ends,
//           A = (1/θ) (R - 2 b bᵀ),  R[2j, 2j+1] = -2πj, R[2j+1, 2j] = 2πj;  B = (2/θ) b
//         (u(t-θ) is estimated as 2 bᵀx - u(t): a truncated Fourier series takes the mean of
//         its two ends there).
// The S4 repository (state-spaces/s4, src/models/hippo/hippo.py, transition()) has legs as
// here, legt and fout with θ = 2 ("halve again for timescale correctness"), and for lagt
// this one plus I/2 (its 'tlagt' with β = 1 is this one).
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace ssm::nn {

enum class HippoMeasure { legs, legt, lagt, fout };

// "legs", "legt", "lagt", "fout"; parsing throws ssm::Error naming the value and the choices.
HippoMeasure parse_hippo_measure(const std::string& s);
const char* hippo_measure_name(HippoMeasure m);

struct Hippo {
  Tensor A;  // (N, N)
  Tensor B;  // (N)
};

// The HiPPO (A, B) of measure m with N states (N >= 1; even for fout) and timescale theta > 0.
Hippo hippo(HippoMeasure m, int64_t N, double theta = 1.0);

// The low-rank correction P (r, N) that makes A + Σ_i P[i]ᵀ P[i] normal, in fact c I + K with K
// skew-symmetric (S4: Gu, Goel & Ré, "Efficiently Modeling Long Sequences with Structured State
// Spaces", ICLR 2022, Theorem 1 and Appendix C.1):
//   legs  r = 1, P_n = √(n + ½)                                    (c = -½)
//   legt  r = 2, P[0]_n = √((2n+1)/θ) for odd n, P[1]_n for even n  (c = 0)
//   lagt  r = 1, P_n = √(1/(2θ))                                   (c = -1/(2θ))
//   fout  r = 1, P = √(2/θ) b                                      (c = 0)
Tensor hippo_rank_correction(HippoMeasure m, int64_t N, double theta = 1.0);

// The normal-plus-low-rank form, diagonalised (S4's DPLR form):
//   A = V (Λ - P̃ P̃ᴴ) Vᴴ,  B = V B̃,  with P̃ = Vᴴ Pᵀ, B̃ = Vᴴ B,
// V unitary: S = A + Pᵀ P = c I + K is normal, so S = V Λ Vᴴ with Λ = c + iμ, μ the eigenvalues
// of the Hermitian -iK (LAPACK's zheevd), ascending.
// conj_sym keeps M = N/2 modes (N even), one of each conjugate pair (λ, v), (λ̄, v̄): those with
// Im λ < 0, in that order, then the modes with Im λ = 0 paired into (u + iw)/√2 from a real
// orthonormal basis u, w of that eigenspace. Then, as S, P and B are real,
//   S = 2 Re(V diag(Λ) Vᴴ),  Pᵀ = 2 Re(V P̃),  B = 2 Re(V B̃),  A = S - Pᵀ P.
// (The order and the kept half are the S4 repository's nplr(): sorted by Im λ, negative half.
// Each column of V, with its entries of P̃ and B̃, is fixed up to a phase.)
struct Nplr {
  Tensor Lambda;  // (M, 2)     eigenvalues of the normal part
  Tensor P;       // (r, M, 2)  P̃ = Vᴴ Pᵀ, row i from P[i]
  Tensor B;       // (M, 2)     B̃ = Vᴴ B
  Tensor V;       // (N, M, 2)  eigenvectors (columns)
};
Nplr nplr(HippoMeasure m, int64_t N, bool conj_sym = false, double theta = 1.0);

// ---- diagonal initialisations ----------------------------------------------------------------

// S4D's initialisations of Λ (Gu, Gupta, Goel & Ré, "On the Parameterization and Initialization
// of Diagonal State Space Models", NeurIPS 2022, §4), for state size N (even): N/2 modes,
// n = 0 .. N/2 - 1, one of each conjugate pair, Im λ >= 0 as the paper writes them and as
// models/s4/s4d.py of state-spaces/s4 stores A_imag (the repository's dplr() keeps the
// conjugates: the same real system):
//   legs  the conjugates of nplr(legs, N, conj_sym).Lambda: -½ + iμ, μ descending (S4D-LegS)
//   inv   λ_n = -½ + i (N/π) (N/(2n+1) - 1)                              (S4D-Inv)
//   lin   λ_n = -½ + i π n                                               (S4D-Lin)
//   real  λ_n = -(n + 1)                                                 (S4D-Real)
enum class S4dInit { legs, inv, lin, real };
S4dInit parse_s4d_init(const std::string& s);  // "legs", "inv", "lin", "real"
const char* s4d_init_name(S4dInit init);

// Λ (N/2, 2).
Tensor s4d_init(S4dInit init, int64_t N);

// S5's initialisation (Smith, Warrington & Linderman, "Simplified State Space Layers for
// Sequence Modeling", ICLR 2023, §4.3 and Appendix B.1.1; lindermanlab/S5, s5/ssm_init.py and
// s5/train.py): the diagonalised normal part of HiPPO-LegS ("HiPPO-N"), block-diagonal with J
// blocks: each block is nplr(legs, N/J, conj_sym) (its Λ and V), repeated J times along the
// diagonal. N/J must be a whole number, and even with conj_sym. M = N with conj_sym false, N/2
// with it.
struct S5Init {
  Tensor Lambda;  // (M, 2)     the blocks' Λ, block after block
  Tensor V;       // (N, M, 2)  block-diagonal eigenvectors: B̃ = V⁻¹ B, C̃ = C V
  Tensor Vinv;    // (M, N, 2)  V⁻¹ = Vᴴ, block-diagonal
};
S5Init s5_init(int64_t N, int64_t blocks = 1, bool conj_sym = true);

}  // namespace ssm::nn
