// CPU selective scan: forward (three algorithms), exact reverse-scan backward, recurrent step.
//
// Work is split into tasks of (batch row, block of kW channels); inside a task the loops over
// channels are unit-stride and vectorise, with the state kept as h[n][j] (n: state, j: channel).
// A is used transposed, At: (N, D), so At[n][d0 + j] is unit-stride in j too.
#include "ops/selective_scan.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/parallel.h"
#include "core/reduce_to.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/selective_scan_cuda.h"
#endif

namespace ssm {

namespace {

constexpr int kW = 32;  // channels per task block

// ---- discretizations: values and partial derivatives ------------------------------------------

// e^x - 1 and its use below need care near 0: float uses a series there, double std::expm1.
inline float expm1_c(float x, float ex) {
  float s = x * (1.0f + x * (0.5f + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120)))));
  return std::fabs(x) < 0.01f ? s : ex - 1.0f;
}
inline double expm1_c(double x, double) { return std::expm1(x); }

template <class C>
struct Zoh {
  // Ā = e^{dt a}, B̄ = dt
  SSM_HD void fwd(C dt, C a, C& ab, C& bb) const {
    ab = exp_c(dt * a);
    bb = dt;
  }
  SSM_HD void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt, C& dbb_da) const {
    ab = exp_c(dt * a);
    bb = dt;
    dab_ddt = a * ab;
    dab_da = dt * ab;
    dbb_ddt = C(1);
    dbb_da = C(0);
  }
  // log Ā, for the log-space scan
  SSM_HD C log_ab(C dt, C a) const { return dt * a; }
};

template <class C>
struct ZohExact {
  // Ā = e^x, B̄ = (e^x - 1) / a = dt φ(x), x = dt a, φ(x) = (e^x - 1) / x
  // dB̄/ddt = e^x, dB̄/da = dt² φ'(x), φ'(x) = (x e^x - (e^x - 1)) / x² (series near 0)
  SSM_HD void fwd(C dt, C a, C& ab, C& bb) const {
    C x = dt * a;
    ab = exp_c(x);
    C em1 = expm1_c(x, ab);
    bb = x == C(0) ? dt : em1 / a;
  }
  SSM_HD void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt, C& dbb_da) const {
    C x = dt * a;
    ab = exp_c(x);
    C em1 = expm1_c(x, ab);
    bb = x == C(0) ? dt : em1 / a;
    dab_ddt = a * ab;
    dab_da = dt * ab;
    dbb_ddt = ab;
    C series = C(0.5) + x * (C(1) / 3 + x * (C(1) / 8 + x * (C(1) / 30 + x * (C(1) / 144))));
    C dphi = std::fabs(x) < C(0.01) ? series : (x * ab - em1) / (x * x);
    dbb_da = dt * dt * dphi;
  }
  SSM_HD C log_ab(C dt, C a) const { return dt * a; }
};

template <class C>
struct Gbt {
  // den = 1 - β x, β = 1 - α:  Ā = (1 + α x) / den, B̄ = dt / den
  // dĀ/ddt = a / den², dĀ/da = dt / den², dB̄/ddt = 1 / den², dB̄/da = β dt² / den²
  C alpha, beta;
  SSM_HD void fwd(C dt, C a, C& ab, C& bb) const {
    C x = dt * a, inv = C(1) / (C(1) - beta * x);
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
  }
  SSM_HD void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt, C& dbb_da) const {
    C x = dt * a, inv = C(1) / (C(1) - beta * x), inv2 = inv * inv;
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
    dab_ddt = a * inv2;
    dab_da = dt * inv2;
    dbb_ddt = inv2;
    dbb_da = beta * dt * dt * inv2;
  }
  SSM_HD C log_ab(C dt, C a) const {
    C ab, bb;
    fwd(dt, a, ab, bb);
    return std::log(ab);  // NaN when Ā <= 0: reported by the log-space scan
  }
};

template <class C>
SSM_HD C softplus_c(C v) {
  return v > C(20) ? v : log1p_exp_c(v);
}
template <class C>
SSM_HD C sigmoid_c(C v) {
  return C(1) / (C(1) + exp_c(-v));
}

// ---- the prepared problem ---------------------------------------------------------------------

template <class C>
struct Problem {
  int64_t B, L, D, N, chunk, n_chunks;
  const C *u, *delta, *At, *Bm, *Cm, *Dsk, *z, *bias;  // Dsk, z, bias may be null
  const int32_t* rst;  // (B, L) sequence starts (nonzero: the state is reset before the step), or null
  bool softplus;

  int64_t row(int64_t b, int64_t t) const { return b * L + t; }
  bool reset(int64_t b, int64_t t) const { return rst && rst[row(b, t)] != 0; }
  // dt and x for channels [d0, d0 + w) at (b, t)
  void load(int64_t b, int64_t t, int64_t d0, int w, C* dt, C* v, C* x) const {
    const C* dl = delta + row(b, t) * D + d0;
    const C* ul = u + row(b, t) * D + d0;
    for (int j = 0; j < w; ++j) {
      v[j] = dl[j] + (bias ? bias[d0 + j] : C(0));
      dt[j] = softplus ? softplus_c(v[j]) : v[j];
      x[j] = ul[j];
    }
  }
  // out = (Σ_n C h + D x) · silu(z), from the readout acc
  void finish(int64_t b, int64_t t, int64_t d0, int w, const C* acc, const C* x, C* y) const {
    C* yl = y + row(b, t) * D + d0;
    for (int j = 0; j < w; ++j) {
      C o = acc[j] + (Dsk ? Dsk[d0 + j] * x[j] : C(0));
      if (z) {
        C zz = z[row(b, t) * D + d0 + j];
        o *= zz * sigmoid_c(zz);
      }
      yl[j] = o;
    }
  }
};

// Runs steps [t0, t1) for one (b, channel block) from state h (N x kW, updated in place).
// Writes outputs when y is set; accumulates the product of Ā into prod when it is set.
template <class C, class Disc>
void scan_steps(const Problem<C>& p, const Disc& disc, int64_t b, int64_t d0, int w, int64_t t0,
                int64_t t1, C* h, C* y, C* prod) {
  C dt[kW], v[kW], x[kW], acc[kW];
  for (int64_t t = t0; t < t1; ++t) {
    if (p.reset(b, t)) {  // a new sequence: Ā taken as 0, h = B̄ Bm x
      for (int64_t n = 0; n < p.N; ++n)
        for (int j = 0; j < w; ++j) {
          h[n * kW + j] = C(0);
          if (prod) prod[n * kW + j] = C(0);
        }
    }
    p.load(b, t, d0, w, dt, v, x);
    for (int j = 0; j < w; ++j) acc[j] = C(0);
    const C* Bt = p.Bm + p.row(b, t) * p.N;
    const C* Ct = p.Cm + p.row(b, t) * p.N;
    for (int64_t n = 0; n < p.N; ++n) {
      const C bn = Bt[n], cn = Ct[n];
      const C* a = p.At + n * p.D + d0;
      C* hn = h + n * kW;
      C* pn = prod ? prod + n * kW : nullptr;
#pragma omp simd
      for (int j = 0; j < w; ++j) {
        C ab, bb;
        disc.fwd(dt[j], a[j], ab, bb);
        hn[j] = ab * hn[j] + bb * bn * x[j];
        acc[j] += cn * hn[j];
        if (pn) pn[j] *= ab;
      }
    }
    if (y) p.finish(b, t, d0, w, acc, x, y);
  }
}

// Saved states: states[b][c][n][d] = h before step c * chunk.
template <class C, class S>
S* state_at(S* states, const Problem<C>& p, int64_t b, int64_t c) {
  return states + ((b * p.n_chunks + c) * p.N) * p.D;
}

template <class C>
void store_state(const Problem<C>& p, C* dst /* (N, D) */, int64_t d0, int w, const C* h) {
  for (int64_t n = 0; n < p.N; ++n)
    for (int j = 0; j < w; ++j) dst[n * p.D + d0 + j] = h[n * kW + j];
}

template <class C>
void load_state(const Problem<C>& p, const C* src, int64_t d0, int w, C* h) {
  for (int64_t n = 0; n < p.N; ++n)
    for (int j = 0; j < w; ++j) h[n * kW + j] = src[n * p.D + d0 + j];
}

template <class C>
void store_final(const Problem<C>& p, C* fin /* (B, D, N) */, int64_t b, int64_t d0, int w,
                 const C* h) {
  if (!fin) return;
  for (int j = 0; j < w; ++j)
    for (int64_t n = 0; n < p.N; ++n) fin[(b * p.D + d0 + j) * p.N + n] = h[n * kW + j];
}

int64_t n_blocks(int64_t D) { return (D + kW - 1) / kW; }

template <class C, class Disc>
void forward_sequential(const Problem<C>& p, const Disc& disc, C* y, C* states, C* fin) {
  int64_t nb = n_blocks(p.D);
  parallel_for(0, p.B * nb, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> h(size_t(p.N * kW));
    for (int64_t task = t0; task < t1; ++task) {
      int64_t b = task / nb, d0 = (task % nb) * kW;
      int w = int(std::min<int64_t>(kW, p.D - d0));
      std::fill(h.begin(), h.end(), C(0));
      for (int64_t c = 0; c < p.n_chunks; ++c) {
        store_state(p, state_at(states, p, b, c), d0, w, h.data());
        scan_steps(p, disc, b, d0, w, c * p.chunk, std::min(p.L, (c + 1) * p.chunk), h.data(), y,
                   static_cast<C*>(nullptr));
      }
      store_final(p, fin, b, d0, w, h.data());
    }
  });
}

// Chunks scanned from a zero state in parallel (local end state E_c, product of Ā P_c), chained
// serially (s_{c+1} = P_c s_c + E_c), then re-scanned in parallel from their true start states.
template <class C, class Disc>
void forward_parallel(const Problem<C>& p, const Disc& disc, C* y, C* states, C* fin) {
  int64_t nb = n_blocks(p.D), nc = p.n_chunks;
  std::vector<C> E(size_t(p.B * nc * p.N * p.D)), P(E.size());
  parallel_for(0, p.B * nb * nc, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> h(size_t(p.N * kW)), prod(size_t(p.N * kW));
    for (int64_t task = t0; task < t1; ++task) {
      int64_t c = task % nc, bd = task / nc, b = bd / nb, d0 = (bd % nb) * kW;
      int w = int(std::min<int64_t>(kW, p.D - d0));
      std::fill(h.begin(), h.end(), C(0));
      std::fill(prod.begin(), prod.end(), C(1));
      scan_steps(p, disc, b, d0, w, c * p.chunk, std::min(p.L, (c + 1) * p.chunk), h.data(),
                 static_cast<C*>(nullptr), prod.data());
      store_state(p, state_at(E.data(), p, b, c), d0, w, h.data());
      store_state(p, state_at(P.data(), p, b, c), d0, w, prod.data());
    }
  });
  parallel_for(0, p.B, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      std::vector<C> s(size_t(p.N * p.D), C(0));
      for (int64_t c = 0; c < nc; ++c) {
        std::copy(s.begin(), s.end(), state_at(states, p, b, c));
        const C* e = state_at(E.data(), p, b, c);
        const C* pr = state_at(P.data(), p, b, c);
        for (size_t i = 0; i < s.size(); ++i) s[i] = pr[i] * s[i] + e[i];
      }
      if (fin)
        for (int64_t d = 0; d < p.D; ++d)
          for (int64_t n = 0; n < p.N; ++n) fin[(b * p.D + d) * p.N + n] = s[size_t(n * p.D + d)];
    }
  });
  parallel_for(0, p.B * nb * nc, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> h(size_t(p.N * kW));
    for (int64_t task = t0; task < t1; ++task) {
      int64_t c = task % nc, bd = task / nc, b = bd / nb, d0 = (bd % nb) * kW;
      int w = int(std::min<int64_t>(kW, p.D - d0));
      load_state(p, state_at(states, p, b, c), d0, w, h.data());
      scan_steps(p, disc, b, d0, w, c * p.chunk, std::min(p.L, (c + 1) * p.chunk), h.data(), y,
                 static_cast<C*>(nullptr));
    }
  });
}

// log-sum-exp accumulation: returns log(e^acc + e^v)
template <class C>
C lse_add(C acc, C v) {
  if (v == -std::numeric_limits<C>::infinity()) return acc;
  if (acc == -std::numeric_limits<C>::infinity()) return v;
  C m = acc > v ? acc : v;
  return m + std::log1p(std::exp(-std::fabs(acc - v)));
}

// h_t = e^{LA_t} (e^{P_t} - e^{M_t}), LA_t = Σ_{s<=t} log Ā_s, P_t / M_t = log Σ_{s<=t} of the
// positive / negative parts of B̄_s x_s e^{-LA_s}.
template <class C, class Disc>
void forward_log_space(const Problem<C>& p, const Disc& disc, C* y, C* states, C* fin,
                       bool& nonpositive) {
  int64_t nb = n_blocks(p.D);
  bool bad = false;
  parallel_for(0, p.B * nb, 1, [&](int64_t t0, int64_t t1) {
    const C ninf = -std::numeric_limits<C>::infinity();
    std::vector<C> h(size_t(p.N * kW)), LA(h.size()), Pp(h.size()), Mm(h.size());
    C dt[kW], v[kW], x[kW], acc[kW];
    for (int64_t task = t0; task < t1; ++task) {
      int64_t b = task / nb, d0 = (task % nb) * kW;
      int w = int(std::min<int64_t>(kW, p.D - d0));
      std::fill(h.begin(), h.end(), C(0));
      std::fill(LA.begin(), LA.end(), C(0));
      std::fill(Pp.begin(), Pp.end(), ninf);
      std::fill(Mm.begin(), Mm.end(), ninf);
      for (int64_t t = 0; t < p.L; ++t) {
        if (t % p.chunk == 0) store_state(p, state_at(states, p, b, t / p.chunk), d0, w, h.data());
        p.load(b, t, d0, w, dt, v, x);
        for (int j = 0; j < w; ++j) acc[j] = C(0);
        const C* Bt = p.Bm + p.row(b, t) * p.N;
        const C* Ct = p.Cm + p.row(b, t) * p.N;
        for (int64_t n = 0; n < p.N; ++n) {
          const C* a = p.At + n * p.D + d0;
          for (int j = 0; j < w; ++j) {
            size_t i = size_t(n * kW + j);
            C ab, bb;
            disc.fwd(dt[j], a[j], ab, bb);
            if (!(ab > C(0))) bad = true;
            LA[i] += disc.log_ab(dt[j], a[j]);
            C bx = bb * Bt[n] * x[j];
            if (bx > C(0)) Pp[i] = lse_add(Pp[i], std::log(bx) - LA[i]);
            if (bx < C(0)) Mm[i] = lse_add(Mm[i], std::log(-bx) - LA[i]);
            h[i] = std::exp(LA[i] + Pp[i]) - std::exp(LA[i] + Mm[i]);
            acc[j] += Ct[n] * h[i];
          }
        }
        p.finish(b, t, d0, w, acc, x, y);
      }
      store_final(p, fin, b, d0, w, h.data());
    }
  });
  nonpositive = bad;
}

// ---- backward ---------------------------------------------------------------------------------

template <class C>
struct GradOut {
  C *du, *ddelta, *dz;       // (B, L, D), dz null without z
  C *dA_part;                // (B, N, D): per batch row, summed afterwards in order
  C *dD_part, *dbias_part;   // (B, D)
  C *dB_part, *dC_part;      // (G, B, L, N): per channel group, summed afterwards in order
};

template <class C, class Disc>
void backward_block(const Problem<C>& p, const Disc& disc, const C* gout, const C* states,
                    int64_t b, int64_t d0, int w, C* dBg, C* dCg, const GradOut<C>& g,
                    std::vector<C>& H, std::vector<C>& dH, std::vector<C>& dA,
                    const std::vector<C>& zero) {
  int64_t K = p.chunk, N = p.N;
  std::fill(dH.begin(), dH.end(), C(0));
  std::fill(dA.begin(), dA.end(), C(0));
  C dt[kW], v[kW], x[kW], gy[kW], dx[kW], ddt[kW], yp[kW], dD[kW] = {}, dbias[kW] = {};
  for (int64_t c = p.n_chunks - 1; c >= 0; --c) {
    int64_t ts = c * K, te = std::min(p.L, ts + K);
    // Recompute the chunk's states: H[k] = state before step ts + k, H[te - ts] = after the last.
    load_state(p, state_at(states, p, b, c), d0, w, H.data());
    for (int64_t t = ts; t < te; ++t) {
      std::copy(H.begin() + (t - ts) * N * kW, H.begin() + (t - ts + 1) * N * kW,
                H.begin() + (t - ts + 1) * N * kW);
      scan_steps(p, disc, b, d0, w, t, t + 1, H.data() + (t - ts + 1) * N * kW,
                 static_cast<C*>(nullptr), static_cast<C*>(nullptr));
    }
    for (int64_t t = te - 1; t >= ts; --t) {
      const C* hcur = H.data() + (t - ts + 1) * N * kW;
      const bool rs = p.reset(b, t);
      // At a sequence start h_prev enters as 0 (no Ā term) and dh stops there.
      const C* hprev = rs ? zero.data() : H.data() + (t - ts) * N * kW;
      int64_t r = p.row(b, t);
      p.load(b, t, d0, w, dt, v, x);
      const C* Bt = p.Bm + r * N;
      const C* Ct = p.Cm + r * N;
      for (int j = 0; j < w; ++j) yp[j] = p.Dsk ? p.Dsk[d0 + j] * x[j] : C(0);
      if (p.z) {
        for (int64_t n = 0; n < N; ++n)
          for (int j = 0; j < w; ++j) yp[j] += Ct[n] * hcur[n * kW + j];
      }
      const C* gl = gout + r * p.D + d0;
      for (int j = 0; j < w; ++j) {
        if (p.z) {
          // out = yp silu(z): d yp = g silu(z), dz = g yp silu'(z), silu' = s (1 + z (1 - s))
          C zz = p.z[r * p.D + d0 + j], s = sigmoid_c(zz);
          gy[j] = gl[j] * zz * s;
          g.dz[r * p.D + d0 + j] = gl[j] * yp[j] * s * (C(1) + zz * (C(1) - s));
        } else {
          gy[j] = gl[j];
        }
        dD[j] += gy[j] * x[j];
        dx[j] = p.Dsk ? gy[j] * p.Dsk[d0 + j] : C(0);
        ddt[j] = C(0);
      }
      for (int64_t n = 0; n < N; ++n) {
        const C bn = Bt[n], cn = Ct[n];
        const C* a = p.At + n * p.D + d0;
        const C* hc = hcur + n * kW;
        const C* hp = hprev + n * kW;
        C* dh = dH.data() + n * kW;
        C* da = dA.data() + n * kW;
        C dCn = 0, dBn = 0;
#pragma omp simd reduction(+ : dCn, dBn)
        for (int j = 0; j < w; ++j) {
          // y = Σ C h:  dC += gy h,  dh += gy C
          dCn += gy[j] * hc[j];
          C dht = dh[j] + gy[j] * cn;
          C ab, bb, dab_ddt, dab_da, dbb_ddt, dbb_da;
          disc.grad(dt[j], a[j], ab, bb, dab_ddt, dab_da, dbb_ddt, dbb_da);
          // h = Ā h_prev + B̄ Bm x
          C d_ab = dht * hp[j];
          C d_bb = dht * bn * x[j];
          dx[j] += dht * bb * bn;
          dBn += dht * bb * x[j];
          ddt[j] += d_ab * dab_ddt + d_bb * dbb_ddt;
          da[j] += d_ab * dab_da + d_bb * dbb_da;
          dh[j] = dht * ab;
        }
        dBg[r * N + n] += dBn;
        dCg[r * N + n] += dCn;
      }
      if (rs) std::fill(dH.begin(), dH.end(), C(0));
      for (int j = 0; j < w; ++j) {
        C dv = p.softplus ? ddt[j] * sigmoid_c(v[j]) : ddt[j];  // softplus' = sigmoid
        g.ddelta[r * p.D + d0 + j] = dv;
        dbias[j] += dv;
        g.du[r * p.D + d0 + j] = dx[j];
      }
    }
  }
  for (int64_t n = 0; n < N; ++n)
    for (int j = 0; j < w; ++j) g.dA_part[(b * N + n) * p.D + d0 + j] = dA[size_t(n * kW + j)];
  for (int j = 0; j < w; ++j) {
    g.dD_part[b * p.D + d0 + j] = dD[j];
    g.dbias_part[b * p.D + d0 + j] = dbias[j];
  }
}

// Channel blocks are grouped into a fixed number of groups (independent of the thread count),
// each with its own dB/dC buffer, so the sums are deterministic.
int64_t n_groups(int64_t D) { return std::min<int64_t>(n_blocks(D), 8); }

template <class C, class Disc>
void backward_all(const Problem<C>& p, const Disc& disc, const C* gout, const C* states,
                  const GradOut<C>& g) {
  int64_t nb = n_blocks(p.D), G = n_groups(p.D);
  parallel_for(0, p.B * G, 1, [&](int64_t t0, int64_t t1) {
    std::vector<C> H(size_t((p.chunk + 1) * p.N * kW)), dH(size_t(p.N * kW)), dA(dH.size()),
        zero(dH.size(), C(0));
    for (int64_t task = t0; task < t1; ++task) {
      int64_t b = task / G, grp = task % G;
      C* dBg = g.dB_part + grp * p.B * p.L * p.N;
      C* dCg = g.dC_part + grp * p.B * p.L * p.N;
      for (int64_t blk = grp; blk < nb; blk += G) {
        int64_t d0 = blk * kW;
        int w = int(std::min<int64_t>(kW, p.D - d0));
        backward_block(p, disc, gout, states, b, d0, w, dBg, dCg, g, H, dH, dA, zero);
      }
    }
  });
}

// ---- dispatch ---------------------------------------------------------------------------------

template <class C, class F>
void with_disc(const SelectiveScanOptions& opt, const F& f) {
  switch (opt.discretization) {
    case Discretization::zoh: f(Zoh<C>{}); break;
    case Discretization::zoh_exact: f(ZohExact<C>{}); break;
    case Discretization::bilinear: f(Gbt<C>{C(0.5), C(0.5)}); break;
    case Discretization::generalized_bilinear:
      f(Gbt<C>{C(opt.alpha), C(1 - opt.alpha)});
      break;
  }
}

struct Prepared {
  Tensor u, delta, At, Bm, Cm, Dsk, z, bias;  // contiguous, compute dtype; At: (N, D)
  Tensor rst;                                  // int32 (B, L) contiguous, or undefined
  int64_t B, L, D, N;
};

template <class C>
Problem<C> problem(const Prepared& q, const SelectiveScanOptions& opt) {
  auto ptr = [](const Tensor& t) { return t.defined() ? static_cast<const C*>(t.raw_data()) : nullptr; };
  Problem<C> p;
  p.B = q.B;
  p.L = q.L;
  p.D = q.D;
  p.N = q.N;
  p.chunk = opt.chunk;
  p.n_chunks = std::max<int64_t>(1, (q.L + opt.chunk - 1) / opt.chunk);
  p.u = ptr(q.u);
  p.delta = ptr(q.delta);
  p.At = ptr(q.At);
  p.Bm = ptr(q.Bm);
  p.Cm = ptr(q.Cm);
  p.Dsk = ptr(q.Dsk);
  p.z = ptr(q.z);
  p.bias = ptr(q.bias);
  p.rst = q.rst.defined() ? q.rst.data<int32_t>() : nullptr;
  p.softplus = opt.delta_softplus;
  return p;
}

void check_inputs(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& Bm,
                  const Tensor& Cm, const Tensor& Dskip, const Tensor& z, const Tensor& bias,
                  const SelectiveScanOptions& opt) {
  const char* op = "selective_scan";
  check_defined(u, op, "u");
  check_defined(delta, op, "delta");
  check_defined(A, op, "A");
  check_defined(Bm, op, "B");
  check_defined(Cm, op, "C");
  SSM_CHECK(u.dim() == 3, op, ": u must be (B, L, D), got ", describe(u));
  int64_t B = u.size(0), L = u.size(1), D = u.size(2);
  SSM_CHECK(delta.shape() == u.shape(), op, ": delta must have u's shape ", u.shape(), ", got ",
            describe(delta));
  SSM_CHECK(A.dim() == 2 && A.size(0) == D, op, ": A must be (D, N) = (", D, ", N), got ",
            describe(A));
  int64_t N = A.size(1);
  SSM_CHECK(N >= 1, op, ": the state size N must be >= 1");
  SSM_CHECK(Bm.shape() == (Shape{B, L, N}), op, ": B must be (B, L, N) = ", Shape{B, L, N},
            ", got ", describe(Bm));
  SSM_CHECK(Cm.shape() == (Shape{B, L, N}), op, ": C must be (B, L, N) = ", Shape{B, L, N},
            ", got ", describe(Cm));
  if (Dskip.defined())
    SSM_CHECK(Dskip.shape() == (Shape{D}), op, ": D must be (", D, ",), got ", describe(Dskip));
  if (z.defined()) SSM_CHECK(z.shape() == u.shape(), op, ": z must have u's shape, got ", describe(z));
  if (bias.defined())
    SSM_CHECK(bias.shape() == (Shape{D}), op, ": delta_bias must be (", D, ",), got ", describe(bias));
  for (const Tensor* t : {&u, &delta, &A, &Bm, &Cm, &Dskip, &z, &bias}) {
    if (!t->defined()) continue;
    SSM_CHECK(t->device() == u.device(), op, ": every input must be on u's device ", u.device(),
              ", got ", describe(*t));
#ifndef SSM_WITH_CUDA
    SSM_CHECK(t->device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(*t));
#endif
    SSM_CHECK(is_floating(t->dtype()), op, ": inputs must be floating, got ", describe(*t));
  }
  SSM_CHECK(opt.chunk >= 1, op, ": chunk must be >= 1, got ", opt.chunk);
  SSM_CHECK(opt.alpha >= 0 && opt.alpha <= 1, op, ": alpha must be in [0, 1], got ", opt.alpha);
}

// seq_start: undefined, or (B, L) of an integral dtype on u's device.
void check_seq_start(const Tensor& seq_start, const Tensor& u, const char* op) {
  if (!seq_start.defined()) return;
  SSM_CHECK(seq_start.shape() == (Shape{u.size(0), u.size(1)}), op, ": seq_start must be (B, L) = ",
            Shape{u.size(0), u.size(1)}, ", got ", describe(seq_start));
  SSM_CHECK(is_integral(seq_start.dtype()), op,
            ": seq_start must be an int32, int64 or bool tensor, got ", describe(seq_start));
  SSM_CHECK(seq_start.device() == u.device(), op, ": seq_start must be on u's device ", u.device(),
            ", got ", describe(seq_start));
}

Prepared prepare(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& Bm,
                 const Tensor& Cm, const Tensor& Dskip, const Tensor& z, const Tensor& bias) {
  DType cdt = compute_dtype(u.dtype());
  auto conv = [cdt](const Tensor& t) { return t.defined() ? t.to(cdt).contiguous() : Tensor(); };
  Prepared q;
  q.u = conv(u);
  q.delta = conv(delta);
  q.At = A.to(cdt).t().contiguous();
  q.Bm = conv(Bm);
  q.Cm = conv(Cm);
  q.Dsk = conv(Dskip);
  q.z = conv(z);
  q.bias = conv(bias);
  q.B = u.size(0);
  q.L = u.size(1);
  q.D = u.size(2);
  q.N = A.size(1);
  return q;
}

#ifdef SSM_WITH_CUDA
// ---- CUDA (kernels in ops/cuda/selective_scan.cu) ---------------------------------------------
// Inputs go to the kernels as they are (any floating dtype, any strides); the `algorithm` option
// does not apply there: the one GPU kernel scans time sequentially inside each thread and gets its
// parallelism from batch, channels and state slices.

cuda::ScanArg scan_arg(const Tensor& t) {
  cuda::ScanArg a;
  if (!t.defined()) return a;
  a.p = t.raw_data();
  a.dtype = t.dtype();
  for (int i = 0; i < t.dim() && i < 3; ++i) a.s[i] = t.stride(i);
  return a;
}

cuda::ScanProblem scan_problem(const Tensor& u, const Tensor& delta, const Tensor& A,
                               const Tensor& Bm, const Tensor& Cm, const Tensor& Dskip,
                               const Tensor& z, const Tensor& bias, const SelectiveScanOptions& opt,
                               const Tensor& rst = Tensor()) {
  cuda::ScanProblem p;
  p.device = u.device().index;
  p.B = u.size(0);
  p.L = u.size(1);
  p.D = u.size(2);
  p.N = A.size(1);
  p.chunk = opt.chunk;
  p.f64 = compute_dtype(u.dtype()) == DType::f64;
  switch (opt.discretization) {
    case Discretization::zoh: p.discretization = 0; break;
    case Discretization::zoh_exact: p.discretization = 1; break;
    case Discretization::bilinear: p.discretization = 2; p.alpha = 0.5; break;
    case Discretization::generalized_bilinear: p.discretization = 2; p.alpha = opt.alpha; break;
  }
  p.softplus = opt.delta_softplus;
  p.u = scan_arg(u);
  p.delta = scan_arg(delta);
  p.A = scan_arg(A);
  p.Bm = scan_arg(Bm);
  p.Cm = scan_arg(Cm);
  p.Dskip = scan_arg(Dskip);
  p.z = scan_arg(z);
  p.bias = scan_arg(bias);
  p.seq_start = rst.defined() ? static_cast<const int32_t*>(rst.raw_data()) : nullptr;
  return p;
}

Tensor selective_scan_cuda(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& Bm,
                           const Tensor& Cm, const Tensor& Dskip, const Tensor& z,
                           const Tensor& delta_bias, const SelectiveScanOptions& opt,
                           Tensor* final_state, const Tensor& rst) {
  Device dev = u.device();
  DType cdt = compute_dtype(u.dtype());
  cuda::ScanProblem prob = scan_problem(u, delta, A, Bm, Cm, Dskip, z, delta_bias, opt, rst);
  Tensor inputs[] = {u, delta, A, Bm, Cm, Dskip, z, delta_bias};
  bool grad = needs_grad(inputs);
  Tensor out = Tensor::empty({prob.B, prob.L, prob.D}, u.dtype(), dev);
  Tensor states = grad ? Tensor::empty({prob.B, cuda::scan_chunks(prob), prob.N, prob.D}, cdt, dev)
                       : Tensor();
  Tensor fin = final_state ? Tensor::empty({prob.B, prob.D, prob.N}, cdt, dev) : Tensor();
  cuda::ScanForward f;
  f.out = out.raw_data();
  f.out_dtype = out.dtype();
  f.states = states.defined() ? states.raw_data() : nullptr;
  f.final_state = fin.defined() ? fin.raw_data() : nullptr;
  cuda::selective_scan_forward(prob, f);
  if (final_state) *final_state = fin;
  if (!grad) return out;

  auto saved = std::make_shared<std::vector<Saved>>(std::vector<Saved>{
      Saved(u), Saved(delta), Saved(A), Saved(Bm), Saved(Cm), Saved(Dskip), Saved(z),
      Saved(delta_bias), Saved(states), Saved(rst)});
  Tensor outs[] = {out};
  record(OpId::selective_scan, inputs, outs, [saved, opt](Grads& g) {
    const std::vector<Saved>& s = *saved;
    Tensor in[8];
    for (size_t i = 0; i < 8; ++i) in[i] = s[i].get();
    const Tensor& st = s[8].get();
    const Tensor& rs = s[9].get();
    const Tensor& gout = g.out[0];
    SSM_CHECK(gout.device() == in[0].device() && is_floating(gout.dtype()),
              "selective_scan backward: the gradient of the output must be a floating tensor on ",
              in[0].device(), ", got ", describe(gout));
    cuda::ScanProblem p =
        scan_problem(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], opt, rs);
    Tensor grads[8];
    cuda::ScanBackward b;
    b.states = st.raw_data();
    b.gout = scan_arg(gout);
    cuda::ScanGrad* slots[8] = {&b.du, &b.ddelta, &b.dA, &b.dB, &b.dC, &b.dD, &b.dz, &b.dbias};
    for (size_t i = 0; i < 8; ++i) {
      if (!g.needs(i) || !in[i].defined()) continue;
      grads[i] = Tensor::empty(in[i].shape(), in[i].dtype(), in[i].device());
      slots[i]->p = grads[i].raw_data();
      slots[i]->dtype = grads[i].dtype();
    }
    cuda::selective_scan_backward(p, b);
    for (size_t i = 0; i < 8; ++i)
      if (grads[i].defined()) g.in[i] = grads[i];
  });
  return out;
}
#endif

}  // namespace

Tensor selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& Bm,
                      const Tensor& Cm, const Tensor& Dskip, const Tensor& z,
                      const Tensor& delta_bias, const SelectiveScanOptions& opt,
                      Tensor* final_state, const Tensor& seq_start) {
  check_inputs(u, delta, A, Bm, Cm, Dskip, z, delta_bias, opt);
  check_seq_start(seq_start, u, "selective_scan");
  SSM_CHECK(!seq_start.defined() || opt.algorithm != ScanAlgorithm::log_space || u.device().is_cuda(),
            "selective_scan: seq_start (packed sequences) is not supported by the log_space "
            "algorithm; use the sequential or parallel scan");
  Tensor rst;
  if (seq_start.defined()) {
    NoGradGuard ng;
    rst = seq_start.to(DType::i32).contiguous();
  }
#ifdef SSM_WITH_CUDA
  if (u.device().is_cuda())
    return selective_scan_cuda(u, delta, A, Bm, Cm, Dskip, z, delta_bias, opt, final_state, rst);
#endif
  Prepared q;
  {
    NoGradGuard ng;
    q = prepare(u, delta, A, Bm, Cm, Dskip, z, delta_bias);
  }
  q.rst = rst;
  DType cdt = q.u.dtype();
  int64_t n_chunks = std::max<int64_t>(1, (q.L + opt.chunk - 1) / opt.chunk);
  Tensor y = Tensor::empty({q.B, q.L, q.D}, cdt);
  Tensor states = Tensor::empty({q.B, n_chunks, q.N, q.D}, cdt);
  Tensor fin = final_state ? Tensor::empty({q.B, q.D, q.N}, cdt) : Tensor();
  bool nonpositive = false;
  SSM_DISPATCH_FLOAT(cdt, "selective_scan", [&] {
    if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
      using C = scalar_t;
      Problem<C> p = problem<C>(q, opt);
      C* yp = y.data<C>();
      C* sp = states.data<C>();
      C* fp = fin.defined() ? fin.data<C>() : nullptr;
      with_disc<C>(opt, [&](const auto& disc) {
        switch (opt.algorithm) {
          case ScanAlgorithm::sequential: forward_sequential(p, disc, yp, sp, fp); break;
          case ScanAlgorithm::parallel: forward_parallel(p, disc, yp, sp, fp); break;
          case ScanAlgorithm::log_space: forward_log_space(p, disc, yp, sp, fp, nonpositive); break;
        }
      });
    }
  });
  SSM_CHECK(!nonpositive, "selective_scan: the log_space algorithm needs Ā > 0, but the ",
            discretization_name(opt.discretization),
            " discretization gave Ā <= 0 (dt·A too large); use the sequential or parallel scan");
  if (final_state) *final_state = fin;
  Tensor out = y.to(u.dtype());

  Tensor inputs[] = {u, delta, A, Bm, Cm, Dskip, z, delta_bias};
  if (needs_grad(inputs)) {
    auto saved = std::make_shared<std::vector<Saved>>(std::vector<Saved>{
        Saved(q.u), Saved(q.delta), Saved(q.At), Saved(q.Bm), Saved(q.Cm), Saved(q.Dsk),
        Saved(q.z), Saved(q.bias), Saved(states), Saved(q.rst)});
    std::vector<DType> dtypes;
    for (const Tensor& t : inputs) dtypes.push_back(t.defined() ? t.dtype() : cdt);
    Tensor outs[] = {out};
    record(OpId::selective_scan, inputs, outs, [saved, dtypes, opt](Grads& g) {
      Prepared r;
      const std::vector<Saved>& s = *saved;
      r.u = s[0].get();
      r.delta = s[1].get();
      r.At = s[2].get();
      r.Bm = s[3].get();
      r.Cm = s[4].get();
      r.Dsk = s[5].get();
      r.z = s[6].get();
      r.bias = s[7].get();
      const Tensor& st = s[8].get();
      r.rst = s[9].get();
      r.B = r.u.size(0);
      r.L = r.u.size(1);
      r.D = r.u.size(2);
      r.N = r.At.size(0);
      DType cdt = r.u.dtype();
      Tensor gout = g.out[0].to(cdt).contiguous();
      int64_t G = n_groups(r.D);
      Tensor du = Tensor::empty({r.B, r.L, r.D}, cdt), ddelta = Tensor::empty(du.shape(), cdt);
      Tensor dz = r.z.defined() ? Tensor::empty(du.shape(), cdt) : Tensor();
      Tensor dA_part = Tensor::empty({r.B, r.N, r.D}, cdt);
      Tensor dD_part = Tensor::empty({r.B, r.D}, cdt), dbias_part = Tensor::empty({r.B, r.D}, cdt);
      Tensor dB_part = Tensor::zeros({G, r.B, r.L, r.N}, cdt), dC_part = Tensor::zeros(dB_part.shape(), cdt);
      SSM_DISPATCH_FLOAT(cdt, "selective_scan backward", [&] {
        if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
          using C = scalar_t;
          Problem<C> p = problem<C>(r, opt);
          GradOut<C> go{du.data<C>(),      ddelta.data<C>(),   dz.defined() ? dz.data<C>() : nullptr,
                        dA_part.data<C>(), dD_part.data<C>(), dbias_part.data<C>(),
                        dB_part.data<C>(), dC_part.data<C>()};
          with_disc<C>(opt, [&](const auto& disc) {
            backward_all(p, disc, gout.data<C>(), st.data<C>(), go);
          });
        }
      });
      auto sum0 = [](const Tensor& t) { return sum_kernel(t, 1u, false); };  // over dim 0, in order
      Tensor grads[] = {du, ddelta, sum0(dA_part).t(), sum0(dB_part), sum0(dC_part),
                        sum0(dD_part), dz, sum0(dbias_part)};
      for (size_t i = 0; i < 8; ++i)
        if (g.needs(i) && grads[i].defined()) g.in[i] = grads[i].to(dtypes[i]).contiguous();
    });
  }
  return out;
}

Tensor selective_scan_step(Tensor& state, const Tensor& x, const Tensor& delta, const Tensor& A,
                           const Tensor& Bm, const Tensor& Cm, const Tensor& Dskip,
                           const Tensor& z, const Tensor& delta_bias,
                           const SelectiveScanOptions& opt) {
  const char* op = "selective_scan_step";
  SSM_CHECK(x.dim() == 2, op, ": x must be (B, D), got ", describe(x));
  // A single step is a scan of length 1 started from `state`.
  int64_t B = x.size(0), D = x.size(1);
  SSM_CHECK(A.dim() == 2 && A.size(0) == D, op, ": A must be (D, N), got ", describe(A));
  int64_t N = A.size(1);
  SSM_CHECK(state.defined() && state.shape() == (Shape{B, D, N}), op, ": state must be ",
            Shape{B, D, N}, ", got ", describe(state));
  SSM_CHECK(state.dtype() == compute_dtype(x.dtype()) && state.is_contiguous(), op,
            ": state must be a contiguous ", compute_dtype(x.dtype()), " tensor, got ",
            describe(state));
  auto seq = [](const Tensor& t) { return t.defined() ? t.unsqueeze(1) : Tensor(); };
  check_inputs(seq(x), seq(delta), A, seq(Bm), seq(Cm), Dskip, seq(z), delta_bias, opt);
  SSM_CHECK(state.device() == x.device(), op, ": state must be on ", x.device(), ", got ",
            describe(state));
  NoGradGuard ng;
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    Tensor y = Tensor::empty({B, D}, x.dtype(), x.device());
    cuda::selective_scan_step(
        scan_problem(seq(x), seq(delta), A, seq(Bm), seq(Cm), Dskip, seq(z), delta_bias, opt),
        state.raw_data(), y.raw_data(), y.dtype());
    ++state.storage()->version;
    return y;
  }
#endif
  Prepared q = prepare(seq(x), seq(delta), A, seq(Bm), seq(Cm), Dskip, seq(z), delta_bias);
  DType cdt = q.u.dtype();
  Tensor y = Tensor::empty({B, 1, D}, cdt);
  SSM_DISPATCH_FLOAT(cdt, op, [&] {
    if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
      using C = scalar_t;
      SelectiveScanOptions o = opt;
      o.chunk = 1;
      Problem<C> p = problem<C>(q, o);
      C* st = state.data<C>();
      with_disc<C>(opt, [&](const auto& disc) {
        int64_t nb = n_blocks(D);
        parallel_for(0, B * nb, 1, [&](int64_t t0, int64_t t1) {
          std::vector<C> h(size_t(N * kW));
          C* hp = h.data();
          for (int64_t task = t0; task < t1; ++task) {
            int64_t b = task / nb, d0 = (task % nb) * kW;
            int w = int(std::min<int64_t>(kW, D - d0));
            for (int j = 0; j < w; ++j)
              for (int64_t n = 0; n < N; ++n) hp[n * kW + j] = st[(b * D + d0 + j) * N + n];
            scan_steps(p, disc, b, d0, w, 0, 1, hp, y.data<C>(), static_cast<C*>(nullptr));
            store_final(p, st, b, d0, w, hp);
          }
        });
      });
    }
  });
  ++state.storage()->version;
  return y.squeeze(1).to(x.dtype());
}

}  // namespace ssm
