#include "nn/s4.h"

#include <cmath>
#include <complex>
#include <numbers>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "nn/hippo.h"
#include "ops/cauchy.h"
#include "ops/dropout.h"
#include "ops/elementwise.h"
#include "ops/fft.h"
#include "ops/glu.h"
#include "ops/join.h"
#include "ops/long_conv.h"
#include "ops/reduce.h"

namespace ssm::nn {

using schema::above;
using schema::at_least;
using schema::between;
using cd = std::complex<double>;

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<S4Config>& S4Config::section() {
  static const schema::Section<S4Config> s = [] {
    schema::Section<S4Config> s("model");
    auto& d_state = s.add("d_state", &S4Config::d_state, at_least(2),
                          "full SSM state size N per channel (even: N/2 complex modes are stored)");
    d_state.json_name = "state_size";
    d_state.aliases = {"state_dim", "state_size"};
    s.add("rank", &S4Config::rank, between(1, 1),
          "rank of the DPLR low-rank term (HiPPO-LegS needs 1, the only value supported)")
        .json_name = "ssm_rank";
    auto& dt_min = s.add("dt_min", &S4Config::dt_min, above(0),
                         "Δ initialisation: log-uniform in [dt_min, dt_max]");
    dt_min.json_name = "time_step_min";
    dt_min.aliases = {"time_step_min"};
    auto& dt_max = s.add("dt_max", &S4Config::dt_max, above(0),
                         "Δ initialisation upper bound; dt_min <= dt_max");
    dt_max.json_name = "time_step_max";
    dt_max.aliases = {"time_step_max"};
    s.add("l_max", &S4Config::l_max, at_least(1),
          "kernel length: C̃ is stored for it, and an input longer than it sees only its taps")
        .json_name = "ssm_l_max";
    s.add("bidirectional", &S4Config::bidirectional,
          "a second, anti-causal kernel (not for language models)")
        .json_name = "ssm_bidirectional";
    s.add("dropout", &S4Config::dropout, between(0, 0.99),
          "dropout after the convolution and after the GELU (s4.py's two)")
        .json_name = "ssm_dropout";
    s.check([](const S4Config& c, schema::Failures& f) {
      if (c.rank != 1)  // also a range, but check() is what a caller without the schema sees
        f.push_back({"rank", {}, "must be 1 (HiPPO-LegS's low-rank term), got " + std::to_string(c.rank)});
      if (c.d_state % 2 != 0)
        f.push_back({"d_state", {}, "must be even (conjugate pairs), got " + std::to_string(c.d_state)});
      if (c.dt_min > c.dt_max)
        f.push_back({"dt_min", {"dt_max"},
                     "must be <= model.dt_max (" + schema::format_number(c.dt_max) + "), got " +
                         schema::format_number(c.dt_min)});
      if (c.bidirectional && c.causal)
        f.push_back({"bidirectional", {},
                     "must be false for a causal architecture (a language model): the second "
                     "kernel looks ahead"});
    });
    return s;
  }();
  return s;
}

S4Config S4Config::from(const json& options, const MixerContext& ctx) {
  S4Config c = section().read_own(options);
  c.d_model = ctx.d_model;
  c.dtype = ctx.dtype;
  c.causal = ctx.causal;
  return c;
}

// ---- host maths: the dense discrete system of one channel -----------------------------------------

namespace {

using Mat = std::vector<cd>;  // n x n, row-major

Mat matmul(const Mat& a, const Mat& b, int64_t n) {
  Mat c(static_cast<size_t>(n * n), cd(0));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < n; ++k) {
      cd aik = a[size_t(i * n + k)];
      for (int64_t j = 0; j < n; ++j) c[size_t(i * n + j)] += aik * b[size_t(k * n + j)];
    }
  return c;
}

// I - Ā^L with Ā = (2/Δ - A)⁻¹ (2/Δ + A), A = diag(λ) - p pᴴ over the 2M modes with conjugates.
Mat i_minus_power(double dt, const std::vector<cd>& lam, const std::vector<cd>& p, int64_t L) {
  const int64_t M = int64_t(lam.size()), n = 2 * M;
  std::vector<cd> lf(static_cast<size_t>(n)), pf(static_cast<size_t>(n));
  for (int64_t m = 0; m < M; ++m) {
    lf[size_t(m)] = lam[size_t(m)];
    lf[size_t(M + m)] = std::conj(lam[size_t(m)]);
    pf[size_t(m)] = p[size_t(m)];
    pf[size_t(M + m)] = std::conj(p[size_t(m)]);
  }
  std::vector<cd> d(static_cast<size_t>(n));
  cd den = 1;
  for (int64_t k = 0; k < n; ++k) {
    d[size_t(k)] = 1.0 / (2.0 / dt - lf[size_t(k)]);
    den += std::conj(pf[size_t(k)]) * d[size_t(k)] * pf[size_t(k)];
  }
  // Column j of Ā: one bilinear step from e_j (Woodbury for the rank-1 solve).
  Mat abar(static_cast<size_t>(n * n));
  std::vector<cd> t(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j) {
    cd pe = std::conj(pf[size_t(j)]);  // pᴴ e_j
    cd s = 0;
    for (int64_t k = 0; k < n; ++k) {
      cd rhs = (k == j ? 2.0 / dt + lf[size_t(k)] : cd(0)) - pf[size_t(k)] * pe;
      t[size_t(k)] = d[size_t(k)] * rhs;
      s += std::conj(pf[size_t(k)]) * t[size_t(k)];
    }
    for (int64_t k = 0; k < n; ++k)
      abar[size_t(k * n + j)] = t[size_t(k)] - d[size_t(k)] * pf[size_t(k)] * s / den;
  }
  Mat pw(static_cast<size_t>(n * n), cd(0));
  for (int64_t i = 0; i < n; ++i) pw[size_t(i * n + i)] = 1;
  for (int64_t e = L; e > 0; e >>= 1) {  // square and multiply
    if (e & 1) pw = matmul(pw, abar, n);
    if (e > 1) abar = matmul(abar, abar, n);
  }
  for (int64_t i = 0; i < n * n; ++i) pw[size_t(i)] = -pw[size_t(i)];
  for (int64_t i = 0; i < n; ++i) pw[size_t(i * n + i)] += 1.0;
  return pw;
}

}  // namespace

std::vector<cd> s4_convert_c(double dt, const std::vector<cd>& lam, const std::vector<cd>& p,
                             const std::vector<cd>& c, int64_t L, bool to_tilde) {
  const int64_t M = int64_t(lam.size()), n = 2 * M;
  Mat mm = i_minus_power(dt, lam, p, L);
  std::vector<cd> cf(static_cast<size_t>(n));
  for (int64_t m = 0; m < M; ++m) {
    cf[size_t(m)] = c[size_t(m)];
    cf[size_t(M + m)] = std::conj(c[size_t(m)]);
  }
  std::vector<cd> r(static_cast<size_t>(M));
  if (to_tilde) {  // row vector times matrix
    for (int64_t j = 0; j < M; ++j) {
      cd s = 0;
      for (int64_t k = 0; k < n; ++k) s += cf[size_t(k)] * mm[size_t(k * n + j)];
      r[size_t(j)] = s;
    }
    return r;
  }
  // Solve x mm = cf, i.e. mmᵀ xᵀ = cfᵀ: Gaussian elimination with partial pivoting on mmᵀ.
  Mat a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a[size_t(i * n + j)] = mm[size_t(j * n + i)];
  std::vector<cd> b = cf;
  for (int64_t col = 0; col < n; ++col) {
    int64_t piv = col;
    for (int64_t i = col + 1; i < n; ++i)
      if (std::abs(a[size_t(i * n + col)]) > std::abs(a[size_t(piv * n + col)])) piv = i;
    SSM_CHECK(std::abs(a[size_t(piv * n + col)]) > 0, "S4: I - Ā^L is singular (l_max ", L,
              ", Δ ", dt, "): C cannot be recovered from C̃");
    if (piv != col) {
      for (int64_t j = 0; j < n; ++j) std::swap(a[size_t(col * n + j)], a[size_t(piv * n + j)]);
      std::swap(b[size_t(col)], b[size_t(piv)]);
    }
    for (int64_t i = col + 1; i < n; ++i) {
      cd f = a[size_t(i * n + col)] / a[size_t(col * n + col)];
      if (f == cd(0)) continue;
      for (int64_t j = col; j < n; ++j) a[size_t(i * n + j)] -= f * a[size_t(col * n + j)];
      b[size_t(i)] -= f * b[size_t(col)];
    }
  }
  std::vector<cd> x(static_cast<size_t>(n));
  for (int64_t i = n - 1; i >= 0; --i) {
    cd s = b[size_t(i)];
    for (int64_t j = i + 1; j < n; ++j) s -= a[size_t(i * n + j)] * x[size_t(j)];
    x[size_t(i)] = s / a[size_t(i * n + i)];
  }
  for (int64_t m = 0; m < M; ++m) r[size_t(m)] = x[size_t(m)];
  return r;
}

// ---- complex helpers over real pairs (..., 2), differentiable, broadcasting -----------------------

namespace {

Tensor re(const Tensor& a) { return a.select(-1, 0); }
Tensor im(const Tensor& a) { return a.select(-1, 1); }
Tensor pair(const Tensor& r, const Tensor& i) { return stack({r, i}, -1); }
Tensor cmul(const Tensor& a, const Tensor& b) {
  return pair(re(a) * re(b) - im(a) * im(b), re(a) * im(b) + im(a) * re(b));
}
Tensor cdiv(const Tensor& a, const Tensor& b) {
  Tensor n = re(b) * re(b) + im(b) * im(b);
  return pair((re(a) * re(b) + im(a) * im(b)) / n, (im(a) * re(b) - re(a) * im(b)) / n);
}
Tensor cconj(const Tensor& a) { return pair(re(a), neg(im(a))); }
Tensor plus_one(const Tensor& a) { return pair(add(re(a), 1.0), im(a)); }

std::vector<cd> complex_rows(const Tensor& t) {  // (..., 2) -> complex values, row-major
  std::vector<double> v = t.detach().cpu().contiguous().to_vector<double>();
  std::vector<cd> c(v.size() / 2);
  for (size_t i = 0; i < c.size(); ++i) c[i] = cd(v[2 * i], v[2 * i + 1]);
  return c;
}

Tensor complex_tensor(const std::vector<cd>& c, const Shape& shape, DType dt, Device dev) {
  std::vector<double> v(2 * c.size());
  for (size_t i = 0; i < c.size(); ++i) {
    v[2 * i] = c[i].real();
    v[2 * i + 1] = c[i].imag();
  }
  return Tensor::from_vector(v, shape).to(dt).to(dev);
}

}  // namespace

// ---- the kernel ----------------------------------------------------------------------------------

S4Kernel::S4Kernel(const S4Config& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t H = cfg.d_model, N = cfg.d_state, M = cfg.modes(), c = cfg.channels();
  SSM_CHECK(H > 0 && N >= 2 && N % 2 == 0, "S4: need d_model > 0 and an even d_state >= 2, got ",
            H, " and ", N);
  SSM_CHECK(cfg.rank == 1, "S4: only rank 1 is supported, got ", cfg.rank);
  SSM_CHECK(cfg.dt_min > 0 && cfg.dt_min <= cfg.dt_max, "S4: need 0 < dt_min <= dt_max, got ",
            cfg.dt_min, " and ", cfg.dt_max);
  SSM_CHECK(cfg.l_max >= 1, "S4: l_max must be >= 1, got ", cfg.l_max);
  Nplr d = nplr(HippoMeasure::legs, N, /*conj_sym=*/true);
  std::vector<cd> lam = complex_rows(d.Lambda), p = complex_rows(d.P), b = complex_rows(d.B);
  for (cd& x : b) x = cd(x.real(), std::clamp(x.imag(), -2.0, 2.0));  // s4.py's B_clip
  std::vector<double> ar(static_cast<size_t>(H * M)), ai(static_cast<size_t>(H * M));
  std::vector<cd> bh(static_cast<size_t>(H * M)), ph(static_cast<size_t>(H * M));
  for (int64_t h = 0; h < H; ++h)
    for (int64_t m = 0; m < M; ++m) {
      size_t i = size_t(h * M + m);
      ar[i] = std::log(std::max(-lam[size_t(m)].real(), 1e-4));
      ai[i] = -lam[size_t(m)].imag();
      bh[i] = b[size_t(m)];
      ph[i] = p[size_t(m)];
    }
  std::vector<double> u = Tensor::rand({H}, DType::f64, &gen).to_vector<double>(), ldt(static_cast<size_t>(H));
  for (int64_t h = 0; h < H; ++h)
    ldt[size_t(h)] = std::log(cfg.dt_min) + u[size_t(h)] * (std::log(cfg.dt_max) - std::log(cfg.dt_min));
  // C ~ complex normal (each part N(0, 1/2)), stored as C̃ for l_max.
  std::vector<double> cr = Tensor::randn({c * H * M * 2}, DType::f64, &gen).to_vector<double>();
  std::vector<cd> ct(static_cast<size_t>(c * H * M));
  parallel_for(0, c * H, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t h = r % H;
      std::vector<cd> lh(static_cast<size_t>(M)), cr_h(static_cast<size_t>(M));
      for (int64_t m = 0; m < M; ++m) {
        lh[size_t(m)] = lam[size_t(m)];
        size_t i = size_t(r * M + m);
        cr_h[size_t(m)] = cd(cr[2 * i], cr[2 * i + 1]) * std::sqrt(0.5);
      }
      std::vector<cd> t = s4_convert_c(std::exp(ldt[size_t(h)]), lh, p, cr_h, cfg.l_max, true);
      for (int64_t m = 0; m < M; ++m) ct[size_t(r * M + m)] = t[size_t(m)];
    }
  });
  const DType dt = cfg.dtype;
  const Device cpu = Device::cpu();
  inv_dt = register_parameter("inv_dt", Tensor::from_vector(ldt, {H, 1}).to(dt));
  A_real = register_parameter("A_real", Tensor::from_vector(ar, {H, M}).to(dt));
  A_imag = register_parameter("A_imag", Tensor::from_vector(ai, {H, M}).to(dt));
  B = register_parameter("B", complex_tensor(bh, {1, H, M, 2}, dt, cpu));
  P = register_parameter("P", complex_tensor(ph, {1, H, M, 2}, dt, cpu));
  C = register_parameter("C", complex_tensor(ct, {c, H, M, 2}, dt, cpu));
}

Tensor S4Kernel::forward(int64_t taps) const {
  const int64_t H = cfg_.d_model, c = cfg_.channels(), Lm = cfg_.l_max, F = Lm / 2 + 1;
  SSM_CHECK(taps >= 1 && taps <= Lm, "S4: kernel taps must be in [1, l_max = ", Lm, "], got ", taps);
  const DType dt = C.dtype();
  const Device dev = C.device();
  // Nodes z_j = 2(1 - ω^j)/(1 + ω^j) and the bilinear factor 2/(1 + ω^j), in float64. For even
  // Lm the last node is ω = -1 where both are infinite; in floating point 1 + ω is ~1e-16 i there
  // (sin(π) is not 0), z is huge, r ~ 1/z, and the product stays finite (s4.py's computation).
  std::vector<cd> z(static_cast<size_t>(F)), s(static_cast<size_t>(F));
  for (int64_t j = 0; j < F; ++j) {
    cd w = std::polar(1.0, -2.0 * std::numbers::pi * double(j) / double(Lm));
    z[size_t(j)] = 2.0 * (1.0 - w) / (1.0 + w);
    s[size_t(j)] = 2.0 / (1.0 + w);
  }
  Tensor zt = complex_tensor(z, {F, 2}, dt, dev), st = complex_tensor(s, {F, 2}, dt, dev);
  Tensor delta = exp(inv_dt).view({H, 1, 1});                          // Δ
  Tensor lam = pair(neg(exp(A_real)), neg(A_imag));                    // Λ (H, M, 2)
  Tensor w = lam * delta;                                              // Δ Λ
  Tensor bside = cat({B, P}, 0);                                       // (2, H, M, 2)
  Tensor cside = cat({C, cconj(P)}, 0);                                // (c + 1, H, M, 2)
  Tensor v = cmul(bside.unsqueeze(1), cside.unsqueeze(0)) * delta;     // (2, c + 1, H, M, 2)
  Tensor r = cauchy(v, w, zt);                                         // (2, c + 1, H, F, 2)
  Tensor r0 = r.select(0, 0), r1 = r.select(0, 1);
  Tensor kf = r0.narrow(0, 0, c) -
              cdiv(cmul(r0.narrow(0, c, 1), r1.narrow(0, 0, c)), plus_one(r1.narrow(0, c, 1)));
  kf = cmul(kf, st);                                                   // (c, H, F, 2)
  Tensor k = irfft(kf, Lm, -1);                                        // (c, H, Lm)
  return taps == Lm ? k : k.narrow(2, 0, taps);
}

// ---- the mixer -----------------------------------------------------------------------------------

namespace {
// Holds output_linear.0 under s4.py's name (an nn.Sequential of the linear and the GLU).
class Sequential0 : public Module {
 public:
  explicit Sequential0(std::shared_ptr<Linear> l) { register_module("0", std::move(l)); }
};
}  // namespace

S4::S4(const S4Config& cfg, Generator& gen) : cfg_(cfg) {
  const int64_t H = cfg.d_model;
  kernel = register_module("kernel", std::make_shared<S4Kernel>(cfg, gen));
  D = register_parameter("D", Tensor::randn({1, H}, DType::f64, &gen).to(cfg.dtype));
  out = std::make_shared<Linear>(H, 2 * H, true, gen, cfg.dtype);
  register_module("output_linear", std::make_shared<Sequential0>(out));
}

Tensor S4::head(const Tensor& y) const {
  return glu(out->forward(gelu(y)), -1);  // (..., 2H) -> (..., H)
}

Tensor S4::forward(const Tensor& x, const Tensor& seq_start) const {
  const int64_t H = cfg_.d_model;
  SSM_CHECK(x.dim() == 3 && x.size(2) == H, "S4: expects (B, L, ", H, "), got ", describe(x));
  SSM_CHECK(!seq_start.defined(),
            "S4: packed sequences (seq_start) are not supported: one long convolution runs over "
            "the whole row, so a packed sequence would see the one before it; train S4 without "
            "packing");
  const int64_t L = x.size(1);
  Tensor xin = x.dtype() == D.dtype() ? x : x.to(D.dtype());  // the convolution runs in f32/f64
  Tensor k = kernel->forward(std::min(L, cfg_.l_max));        // (c, H, taps)
  Tensor k_rev = cfg_.bidirectional ? k.select(0, 1) : Tensor();
  Tensor y;  // (B, L, H)
  if (cfg_.dropout > 0 && training()) {  // s4.py's first dropout sits between the skip and GELU
    y = dropout(long_conv(xin, k.select(0, 0), D.view({H}), k_rev, /*gelu=*/false), cfg_.dropout, true);
    y = dropout(gelu(y), cfg_.dropout, true);
  } else {
    y = long_conv(xin, k.select(0, 0), D.view({H}), k_rev, /*gelu=*/true);
  }
  return glu(out->forward(y), -1);
}

std::shared_ptr<const S4StepParams> S4::step_params() const {
  SSM_CHECK(!cfg_.bidirectional, "S4: a bidirectional layer has no recurrent step mode");
  const int64_t H = cfg_.d_model, M = cfg_.modes();
  const DType dt = D.dtype();
  const Device dev = D.device();
  std::vector<double> ldt = kernel->inv_dt.detach().cpu().to(DType::f64).to_vector<double>(),
                      ar = kernel->A_real.detach().cpu().to(DType::f64).to_vector<double>(),
                      ai = kernel->A_imag.detach().cpu().to(DType::f64).to_vector<double>();
  std::vector<cd> b = complex_rows(kernel->B.to(DType::f64)), p = complex_rows(kernel->P.to(DType::f64)),
                  ct = complex_rows(kernel->C.narrow(0, 0, 1).to(DType::f64));
  std::vector<cd> E(static_cast<size_t>(H * M)), Dw(static_cast<size_t>(H * M)), DwP(static_cast<size_t>(H * M)), B2(static_cast<size_t>(H * M)),
      Cc(static_cast<size_t>(H * M));
  std::vector<double> den(static_cast<size_t>(H));
  parallel_for(0, H, 1, [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      const double delta = std::exp(ldt[size_t(h)]);
      std::vector<cd> lam(static_cast<size_t>(M)), ph(static_cast<size_t>(M)), cth(static_cast<size_t>(M));
      double d = 1;
      for (int64_t m = 0; m < M; ++m) {
        size_t i = size_t(h * M + m);
        lam[size_t(m)] = cd(-std::exp(ar[i]), -ai[i]);
        ph[size_t(m)] = p[i];
        cth[size_t(m)] = ct[i];
        E[i] = 2.0 / delta + lam[size_t(m)];
        Dw[i] = 1.0 / (2.0 / delta - lam[size_t(m)]);
        DwP[i] = Dw[i] * p[i];
        B2[i] = 2.0 * b[i];
        d += 2.0 * (std::conj(p[i]) * Dw[i] * p[i]).real();
      }
      den[size_t(h)] = d;
      std::vector<cd> c = s4_convert_c(delta, lam, ph, cth, cfg_.l_max, false);
      for (int64_t m = 0; m < M; ++m) Cc[size_t(h * M + m)] = std::conj(c[size_t(m)]);
    }
  });
  auto sp = std::make_shared<S4StepParams>();
  sp->E = complex_tensor(E, {H, M, 2}, dt, dev);
  sp->Dw = complex_tensor(Dw, {H, M, 2}, dt, dev);
  sp->P = complex_tensor(p, {H, M, 2}, dt, dev);
  sp->DwP = complex_tensor(DwP, {H, M, 2}, dt, dev);
  sp->B2 = complex_tensor(B2, {H, M, 2}, dt, dev);
  sp->Cconj = complex_tensor(Cc, {H, M, 2}, dt, dev);
  sp->denom = Tensor::from_vector(den, {H, 1, 1}).to(dt).to(dev);
  return sp;
}

std::unique_ptr<MixerState> S4::new_state(int64_t batch) const {
  NoGradGuard ng;
  auto s = std::make_unique<S4State>();
  s->x = Tensor::zeros({batch, cfg_.d_model, cfg_.modes(), 2}, D.dtype(), D.device());
  s->params = step_params();
  return s;
}

// One bilinear step for every channel, with the full state [x, conj x] written through x:
//   rhs = (2/Δ + Λ) x - P̃ (P̃ᴴ x) + 2 B̃ u;  x' = Dw rhs - Dw P̃ (P̃ᴴ Dw rhs) / (1 + P̃ᴴ Dw P̃)
// (pᴴ x over the 2M modes with conjugates is 2 Re Σ conj(p) x: the sum of p * x over (M, 2));
// y = 2 Re Σ C x' + D u, the last term added by the caller.
Tensor S4::ssm_step(const S4StepParams& p, Tensor& s, const Tensor& u) const {
  Tensor uu = u.unsqueeze(-1).unsqueeze(-1);                                // (B, H, 1, 1)
  Tensor q = mul(sum(p.P * s, {-2, -1}, true), 2.0);                        // (B, H, 1, 1)
  Tensor rhs = cmul(p.E, s) - p.P * q + p.B2 * uu;
  Tensor t = cmul(p.Dw, rhs);
  Tensor tt = mul(sum(p.P * t, {-2, -1}, true), 2.0);
  s.copy_(t - p.DwP * (tt / p.denom));  // in place: decoders may hold the state's storage
  return mul(sum(p.Cconj * s, {-2, -1}), 2.0);  // 2 Re Σ C x = 2 Σ (Re C Re x - Im C Im x)
}

Tensor S4::prefill(const Tensor& x, MixerState& state) const {
  Tensor y = forward(x);
  NoGradGuard ng;
  S4State& st = dynamic_cast<S4State&>(state);
  Tensor xin = x.dtype() == D.dtype() ? x : x.to(D.dtype());
  for (int64_t t = 0; t < x.size(1); ++t) ssm_step(*st.params, st.x, xin.select(1, t));
  return y;
}

Tensor S4::step(const Tensor& x, MixerState& state) const {
  SSM_CHECK(x.dim() == 2 && x.size(1) == cfg_.d_model, "S4::step: expects (B, ", cfg_.d_model,
            "), got ", describe(x));
  NoGradGuard ng;
  S4State& st = dynamic_cast<S4State&>(state);
  Tensor xin = x.dtype() == D.dtype() ? x : x.to(D.dtype());
  Tensor y = ssm_step(*st.params, st.x, xin) + xin * D;
  return head(y);
}

// Forward FLOPs per token: the output linear (2 * H * 2H), the convolution's transforms and
// product (~3 FFTs of 2L points per channel, amortised: ~ 3 * 5 log2(2L) for L = l_max), the
// kernel's Cauchy sums (4 (c + 1) M nodes-worth per channel, shared by the batch: not counted).
double S4::flops_per_token() const {
  const double H = double(cfg_.d_model), L = double(cfg_.l_max);
  return 2 * H * 2 * H + H * (15 * std::log2(2 * L) + 8);
}

int64_t S4::state_elements() const { return cfg_.d_model * cfg_.modes() * 2; }

std::string S4::summary() const {
  return "d_state " + std::to_string(cfg_.d_state) + " (" + std::to_string(cfg_.modes()) +
         " complex modes), HiPPO-LegS DPLR rank " + std::to_string(cfg_.rank) +
         ", bilinear, Cauchy + Woodbury kernel of l_max " + std::to_string(cfg_.l_max) +
         (cfg_.bidirectional ? ", bidirectional" : "");
}

MixerInfo s4_mixer_info() {
  MixerInfo m;
  m.name = "s4";
  m.doc = "S4 (DPLR HiPPO-LegS SSM, Cauchy + Woodbury kernel, FFT convolution, GELU, GLU output)";
  m.model_type = "ssm";
  m.hf_class = "SSMForCausalLM";
  m.keys = []() -> const std::vector<schema::Key>& {
    static const std::vector<schema::Key> keys = S4Config::section().json_keys();
    return keys;
  };
  m.defaults = [] { return S4Config::section().write(S4Config{}); };
  m.check = [](const json& options, const MixerContext& ctx) {
    return S4Config::section().failures(S4Config::from(options, ctx));
  };
  m.create = [](const json& options, const MixerContext& ctx, Generator& gen) -> std::shared_ptr<Mixer> {
    return std::make_shared<S4>(S4Config::from(options, ctx), gen);
  };
  m.parameters = [](const json& options, const MixerContext& ctx) {
    // kernel: inv_dt, A_real, A_imag, B, P, C; D; output_linear.0 weight and bias.
    S4Config c = S4Config::from(options, ctx);
    const double H = double(c.d_model), M = double(c.modes()), ch = double(c.channels());
    return H + 2 * H * M + 2 * H * M + 2 * H * M * double(c.rank) + ch * 2 * H * M + H +
           2 * H * H + 2 * H;
  };
  m.write_json = [](const json&, const MixerContext&, json& config) {
    config["ssm_init"] = "legs";
    config["ssm_discretization"] = "bilinear";
    config["hidden_act"] = "gelu";
  };
  m.check_json = [](const json& config, const std::string& source) {
    if (config.contains("ssm_discretization"))
      SSM_CHECK(config.at("ssm_discretization") == "bilinear", source, ": ssm_discretization ",
                config.at("ssm_discretization").dump(), " is not supported by s4 (only \"bilinear\")");
    if (config.contains("ssm_init"))
      SSM_CHECK(config.at("ssm_init") == "legs", source, ": ssm_init ", config.at("ssm_init").dump(),
                " is not supported by s4 (only \"legs\")");
  };
  return m;
}

}  // namespace ssm::nn
