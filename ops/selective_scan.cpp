// selective_scan: the op (checks, one autograd record) over its kernel tables, the CPU kernels
// (forward in three algorithms, exact reverse-scan backward, recurrent step) and the op's
// test-table entry.
//
// The CPU kernels split the work into tasks of (batch row, block of kW channels); inside a task
// the loops over channels are unit-stride and vectorise, with the state kept as h[n][j] (n:
// state, j: channel). A is used transposed, At: (N, D), so At[n][d0 + j] is unit-stride in j too.
#include "ops/selective_scan.h"

#include <array>
#include <cmath>
#include <limits>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/fast_math.h"
#include "core/parallel.h"
#include "core/reduce_to.h"
#include "ops/discretization.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

constexpr int kW = 32;  // channels per task block

// ---- maths: the discretizations' policy (ops/discretization.h), softplus, sigmoid -------------

// e^x - 1 and its use below need care near 0: float uses a series there, double std::expm1.
inline float expm1_c(float x, float ex) {
  float s = x * (1.0f + x * (0.5f + x * (1.0f / 6 + x * (1.0f / 24 + x * (1.0f / 120)))));
  return std::fabs(x) < 0.01f ? s : ex - 1.0f;
}
inline double expm1_c(double x, double) { return std::expm1(x); }

// The CPU's maths for the discretizations: core/fast_math.h's vectorisable exp, e^x - 1 as above;
// zoh keeps a itself.
struct CpuMath {
  template <class C>
  static constexpr bool kLog2Zoh = false;
  template <class C>
  SSM_HD static C exp(C x) {
    return exp_c(x);
  }
  template <class C>
  SSM_HD static C expm1(C x, C ex) {
    return expm1_c(x, ex);
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

// Tasks (a block of kW channels over `steps` time steps) per thread: a step of one channel and
// state is about four work units (an exp, two multiply-adds, a load and a store). A decoding step,
// one time step, then stays on the calling thread: its few microseconds would not pay for a
// parallel region.
template <class C>
int64_t task_grain(const Problem<C>& p, int64_t steps) {
  return grain_for_work(int64_t(kW) * p.N * steps * 4);
}

template <class C, class Disc>
void forward_sequential(const Problem<C>& p, const Disc& disc, C* y, C* states, C* fin) {
  int64_t nb = n_blocks(p.D);
  parallel_for(0, p.B * nb, task_grain(p, p.L), [&](int64_t t0, int64_t t1) {
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
  parallel_for(0, p.B * nb * nc, task_grain(p, p.chunk), [&](int64_t t0, int64_t t1) {
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
  parallel_for(0, p.B, grain_for_work(nc * p.N * p.D * 2), [&](int64_t b0, int64_t b1) {
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
  parallel_for(0, p.B * nb * nc, task_grain(p, p.chunk), [&](int64_t t0, int64_t t1) {
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
  parallel_for(0, p.B * nb, task_grain(p, p.L), [&](int64_t t0, int64_t t1) {
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
  // A task scans its group's blocks backward, about three times a forward's work per step.
  int64_t grain = task_grain(p, 3 * p.L * ((nb + G - 1) / G));
  parallel_for(0, p.B * G, grain, [&](int64_t t0, int64_t t1) {
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

// ---- from Tensors to the CPU problem ----------------------------------------------------------

template <class C, class F>
void with_disc(const SelectiveScanOptions& opt, const F& f) {
  switch (opt.discretization) {
    case Discretization::zoh: f(Zoh<C, CpuMath>{}); break;
    case Discretization::zoh_exact: f(ZohExact<C, CpuMath>{}); break;
    case Discretization::bilinear: f(Gbt<C, CpuMath>{C(0.5), C(0.5)}); break;
    case Discretization::generalized_bilinear:
      f(Gbt<C, CpuMath>{C(opt.alpha), C(1 - opt.alpha)});
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

// ---- CPU kernels ------------------------------------------------------------------------------
// The inputs are converted to the compute dtype and made contiguous, A transposed (prepare), and
// the forward keeps those copies for the backward: u, delta, At, Bm, Cm, Dskip, z, delta_bias,
// the states, seq_start. The states are always kept (the scans write them on their way).

Tensor cpu_forward(const SelectiveScanArgs& a, Tensor* final_state, std::vector<Tensor>* keep) {
  const SelectiveScanOptions& opt = a.opt;
  SSM_CHECK(!a.seq_start.defined() || opt.algorithm != ScanAlgorithm::log_space,
            "selective_scan: seq_start (packed sequences) is not supported by the log_space "
            "algorithm; use the sequential or parallel scan");
  Prepared q;
  {
    NoGradGuard ng;
    q = prepare(a.u, a.delta, a.A, a.Bm, a.Cm, a.Dskip, a.z, a.delta_bias);
  }
  q.rst = a.seq_start;
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
  if (keep) *keep = {q.u, q.delta, q.At, q.Bm, q.Cm, q.Dsk, q.z, q.bias, states, q.rst};
  return y.to(a.u.dtype());
}

// Gradients in the compute dtype: the exact reverse scan per (batch row, channel group), then
// the sums of the partials over batch rows and groups, in order.
void cpu_backward(std::span<const Tensor> kept, const SelectiveScanOptions& opt,
                  const Tensor& gout_any, const bool (&want)[8], Tensor (&grads)[8]) {
  Prepared r;
  r.u = kept[0];
  r.delta = kept[1];
  r.At = kept[2];
  r.Bm = kept[3];
  r.Cm = kept[4];
  r.Dsk = kept[5];
  r.z = kept[6];
  r.bias = kept[7];
  const Tensor& st = kept[8];
  r.rst = kept[9];
  r.B = r.u.size(0);
  r.L = r.u.size(1);
  r.D = r.u.size(2);
  r.N = r.At.size(0);
  DType cdt = r.u.dtype();
  Tensor gout = gout_any.to(cdt).contiguous();
  int64_t G = n_groups(r.D);
  Tensor du = Tensor::empty({r.B, r.L, r.D}, cdt), ddelta = Tensor::empty(du.shape(), cdt);
  Tensor dz = r.z.defined() ? Tensor::empty(du.shape(), cdt) : Tensor();
  Tensor dA_part = Tensor::empty({r.B, r.N, r.D}, cdt);
  Tensor dD_part = Tensor::empty({r.B, r.D}, cdt), dbias_part = Tensor::empty({r.B, r.D}, cdt);
  Tensor dB_part = Tensor::zeros({G, r.B, r.L, r.N}, cdt);
  Tensor dC_part = Tensor::zeros(dB_part.shape(), cdt);
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
  Tensor all[] = {du, ddelta, sum0(dA_part).t(), sum0(dB_part), sum0(dC_part),
                  sum0(dD_part), dz, sum0(dbias_part)};
  for (size_t i = 0; i < 8; ++i)
    if (want[i] && all[i].defined()) grads[i] = all[i];
}

Tensor cpu_step(Tensor& state, const SelectiveScanArgs& a) {
  const SelectiveScanOptions& opt = a.opt;
  Prepared q = prepare(a.u, a.delta, a.A, a.Bm, a.Cm, a.Dskip, a.z, a.delta_bias);
  const int64_t B = q.B, D = q.D, N = q.N;
  DType cdt = q.u.dtype();
  Tensor y = Tensor::empty({B, 1, D}, cdt);
  SSM_DISPATCH_FLOAT(cdt, "selective_scan_step", [&] {
    if constexpr (std::is_same_v<scalar_t, float> || std::is_same_v<scalar_t, double>) {
      using C = scalar_t;
      SelectiveScanOptions o = opt;
      o.chunk = 1;
      Problem<C> p = problem<C>(q, o);
      C* st = state.data<C>();
      with_disc<C>(opt, [&](const auto& disc) {
        int64_t nb = n_blocks(D);
        parallel_for(0, B * nb, task_grain(p, 1), [&](int64_t t0, int64_t t1) {
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
  return y.squeeze(1).to(a.u.dtype());
}

const SelectiveScanKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward, cpu_step};
SSM_REGISTER_KERNELS(SelectiveScanKernels, cpu, kCpuKernels);

}  // namespace

// ---- the op -----------------------------------------------------------------------------------

// Forward and backward as stated in the header, over the backend's kernels; the backend chooses
// what the backward reads (SelectiveScanKernels::forward's `keep`), the op holds it as Saved.
Tensor selective_scan(const Tensor& u, const Tensor& delta, const Tensor& A, const Tensor& Bm,
                      const Tensor& Cm, const Tensor& Dskip, const Tensor& z,
                      const Tensor& delta_bias, const SelectiveScanOptions& opt,
                      Tensor* final_state, const Tensor& seq_start) {
  check_inputs(u, delta, A, Bm, Cm, Dskip, z, delta_bias, opt);
  check_seq_start(seq_start, u, "selective_scan");
  const SelectiveScanKernels& k = kernels<SelectiveScanKernels>("selective_scan", u);
  SelectiveScanArgs a{u, delta, A, Bm, Cm, Dskip, z, delta_bias, Tensor(), opt};
  if (seq_start.defined()) {
    NoGradGuard ng;
    a.seq_start = seq_start.to(DType::i32).contiguous();
  }
  Tensor inputs[] = {u, delta, A, Bm, Cm, Dskip, z, delta_bias};
  const bool grad = needs_grad(inputs);
  std::vector<Tensor> keep;
  Tensor out = k.forward(a, final_state, grad ? &keep : nullptr);
  if (!grad) return out;

  auto saved = std::make_shared<std::vector<Saved>>(keep.begin(), keep.end());
  std::array<DType, 8> dtypes;
  for (size_t i = 0; i < 8; ++i)
    dtypes[i] = inputs[i].defined() ? inputs[i].dtype() : compute_dtype(u.dtype());
  Tensor outs[] = {out};
  record(OpId::selective_scan, inputs, outs, [saved, dtypes, opt, &k](Grads& g) {
    std::vector<Tensor> kept;
    for (const Saved& s : *saved) kept.push_back(s.get());
    bool want[8];
    for (size_t i = 0; i < 8; ++i) want[i] = g.needs(i);
    Tensor grads[8];
    k.backward(kept, opt, g.out[0], want, grads);
    for (size_t i = 0; i < 8; ++i)
      if (grads[i].defined()) g.in[i] = grads[i].to(dtypes[i]).contiguous();
  });
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
  const SelectiveScanKernels& k = kernels<SelectiveScanKernels>(op, x);
  Tensor y = k.step(state, {seq(x), seq(delta), A, seq(Bm), seq(Cm), Dskip, seq(z), delta_bias,
                            Tensor(), opt});
  ++state.storage()->version;
  return y;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/selective_scan.py, a plain loop
// over time) ------------------------------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

Tensors problem(Generator& g, int64_t B, int64_t L, int64_t D, int64_t N, bool optional = true) {
  return {randn(g, {B, L, D}),  mul(randn(g, {B, L, D}), 0.5), neg(exp(mul(randn(g, {D, N}), 0.5))),
          randn(g, {B, L, N}),  randn(g, {B, L, N}),           optional ? randn(g, {D}) : Tensor(),
          optional ? randn(g, {B, L, D}) : Tensor(), optional ? mul(randn(g, {D}), 0.3) : Tensor()};
}

json args(const char* disc = "zoh", const char* algorithm = "sequential", double alpha = 0.5,
          bool softplus = true, int chunk = 2) {
  return {{"discretization", disc}, {"algorithm", algorithm}, {"alpha", alpha},
          {"softplus", softplus},    {"chunk", chunk}};
}

// seq_start (B, L) with ones at the given (row, t) starts (t = 0 of every row is one anyway).
Tensor starts(int64_t B, int64_t L, const std::vector<std::pair<int64_t, int64_t>>& at,
              DType dt = DType::i64) {
  std::vector<int64_t> v(size_t(B * L), 0);
  for (auto [b, t] : at) v[size_t(b * L + t)] = 1;
  return Tensor::from_vector(v, {B, L}).to(dt);
}

SelectiveScanOptions options(const json& a) {
  SelectiveScanOptions o;
  o.discretization = parse_discretization(a.at("discretization"));
  o.algorithm = parse_scan_algorithm(a.at("algorithm"));
  o.alpha = a.at("alpha");
  o.delta_softplus = a.at("softplus");
  o.chunk = a.at("chunk");
  return o;
}

SSM_OP_INFO({.name = "selective_scan",
             .nodes = {OpId::selective_scan},
             .run = [](const Tensors& in, const json& a) {
               Tensor seq_start = in.size() > 8 ? in[8] : Tensor();
               return Tensors{selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7],
                                             options(a), nullptr, seq_start)};
             },
             .samples = [](Generator& g) {
               std::vector<Sample> s;
               for (const char* d : {"zoh", "zoh_exact", "bilinear"}) s.push_back({d, problem(g, 2, 5, 3, 2), args(d)});
               s.push_back({"generalized_bilinear alpha 0.3", problem(g, 2, 5, 3, 2),
                            args("generalized_bilinear", "sequential", 0.3)});
               s.push_back({"parallel", problem(g, 2, 7, 3, 2), args("zoh", "parallel")});
               s.push_back({"log_space", problem(g, 2, 6, 3, 2), args("zoh", "log_space")});
               Tensors p = problem(g, 1, 4, 3, 3, false);
               p[1] = add(abs(p[1]), 0.1);  // delta is dt itself without softplus: keep it positive
               s.push_back({"no optional inputs, no softplus", p, args("zoh", "sequential", 0.5, false)});
               s.push_back({"two channel blocks", problem(g, 1, 3, 35, 2), args("zoh", "sequential", 0.5, true, 64)});
               Tensors nc = problem(g, 2, 4, 3, 2);
               nc[0] = noncontig(nc[0]);
               nc[3] = noncontig(nc[3]);
               s.push_back({"non-contiguous u and B", nc, args("bilinear")});
               // Packed rows (seq_start): boundaries at t = 1, on and off chunk boundaries.
               Tensors pk = problem(g, 2, 9, 3, 2);
               pk.push_back(starts(2, 9, {{0, 3}, {0, 7}, {1, 1}, {1, 4}}));
               s.push_back({"packed", pk, args("zoh")});
               Tensors pp = problem(g, 2, 9, 3, 2);
               pp.push_back(starts(2, 9, {{0, 2}, {0, 5}, {1, 6}}, DType::i32));
               s.push_back({"packed parallel zoh_exact", pp, args("zoh_exact", "parallel", 0.5, true, 3)});
               Tensors pn = problem(g, 1, 8, 3, 3, false);
               pn[1] = add(abs(pn[1]), 0.1);
               pn.push_back(starts(1, 8, {{0, 4}, {0, 5}}, DType::b8));
               s.push_back({"packed bilinear, no optional inputs", pn, args("bilinear", "sequential", 0.5, false, 4)});
               return s;
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
