// layer_norm and rms_norm: one fused pass per row forward (stats + normalise + affine) and one
// fused pass per row backward (dx, plus per-block partial sums for dweight / dbias); add_rms_norm
// and add_layer_norm: the residual add fused in front, sharing one implementation.
#include "ops/norm.h"

#include <cmath>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"
#include "ops/reduce.h"

namespace ssm {

namespace {

// Rows per parallel task: enough work per task, independent of the thread count.
int64_t row_grain(int64_t D) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)); }

// sum_d f(x[d]) in the compute type, over 32 independent lanes so the loop vectorises into
// several vector accumulators (measured: 8 lanes made layer_norm's forward 2.5x slower).
template <class T, class F>
acc_t<T> row_sum(const T* x, int64_t D, const F& f) {
  using A = acc_t<T>;
  constexpr int kLanes = 32;
  A lane[kLanes] = {};
  int64_t d = 0;
  for (; d + kLanes <= D; d += kLanes)
    for (int j = 0; j < kLanes; ++j) lane[j] += f(Scalar<T>::load(x[d + j]), d + j);
  A tail = 0;
  for (; d < D; ++d) tail += f(Scalar<T>::load(x[d]), d);
  for (int w = kLanes / 2; w > 0; w /= 2)
    for (int j = 0; j < w; ++j) lane[j] += lane[j + w];
  return lane[0] + tail;
}

// A (D) vector in the compute type: `t` converted, or `fill` everywhere when t is undefined.
template <class A>
std::vector<A> param_vector(const Tensor& t, int64_t D, A fill) {
  if (!t.defined()) return std::vector<A>(size_t(D), fill);
  std::vector<double> v = t.to_vector<double>();
  return std::vector<A>(v.begin(), v.end());
}

// Forward over R rows of x (R, D) contiguous. rms: y = x rstd w; else y = (x - mean) rstd w + b.
template <class T>
void norm_forward(const T* x, T* y, acc_t<T>* mean, acc_t<T>* rstd, const acc_t<T>* w,
                  const acc_t<T>* b, int64_t R, int64_t D, double eps, bool rms) {
  using A = acc_t<T>;
  using S = Scalar<T>;
  parallel_for(0, R, row_grain(D), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * D;
      T* yr = y + r * D;
      A mu = 0;
      if (!rms) mu = row_sum(xr, D, [](A v, int64_t) { return v; }) / A(D);
      A var = row_sum(xr, D, [mu](A v, int64_t) { return (v - mu) * (v - mu); }) / A(D);
      A rs = A(1) / std::sqrt(var + A(eps));
      if (!rms) mean[r] = mu;
      rstd[r] = rs;
      for (int64_t d = 0; d < D; ++d) yr[d] = S::store((S::load(xr[d]) - mu) * rs * w[d] + b[d]);
    }
  });
}

// Backward over rows of x, g (R, D) contiguous, with xhat = (x - mean) rstd (mean = 0 for rms)
// and h = g w:  dx = rstd (h - [mean(h)] - xhat mean(h xhat)), the bracket for layer_norm only.
// dweight / dbias partial sums go to `part` (nblk, 2, D) per fixed block of rows.
template <class T>
void norm_backward(const T* x, const T* g, const acc_t<T>* mean, const acc_t<T>* rstd,
                   const acc_t<T>* w, T* dx, acc_t<T>* part, int64_t rows_per_blk, int64_t R,
                   int64_t D, bool rms) {
  using A = acc_t<T>;
  using S = Scalar<T>;
  int64_t nblk = (R + rows_per_blk - 1) / rows_per_blk;
  parallel_for(0, nblk, std::max<int64_t>(1, row_grain(D) / rows_per_blk), [&](int64_t k0,
                                                                              int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      A* pw = part ? part + k * 2 * D : nullptr;
      A* pb = part ? pw + D : nullptr;
      if (part)
        for (int64_t d = 0; d < 2 * D; ++d) pw[d] = 0;
      for (int64_t r = k * rows_per_blk; r < std::min(R, (k + 1) * rows_per_blk); ++r) {
        const T* xr = x + r * D;
        const T* gr = g + r * D;
        A mu = rms ? A(0) : mean[r], rs = rstd[r];
        if (dx) {
          A sh = 0;
          if (!rms) sh = row_sum(gr, D, [w](A gv, int64_t d) { return gv * w[d]; });
          A shx = row_sum(gr, D, [&](A gv, int64_t d) {
            return gv * w[d] * (S::load(xr[d]) - mu) * rs;
          });
          A c1 = sh / A(D), c2 = shx / A(D);
          T* dxr = dx + r * D;
          for (int64_t d = 0; d < D; ++d) {
            A xh = (S::load(xr[d]) - mu) * rs;
            dxr[d] = S::store(rs * (S::load(gr[d]) * w[d] - c1 - xh * c2));
          }
        }
        if (part) {
          for (int64_t d = 0; d < D; ++d) {
            A gv = S::load(gr[d]);
            pw[d] += gv * (S::load(xr[d]) - mu) * rs;
            pb[d] += gv;
          }
        }
      }
    }
  });
}

// Runs norm_backward on x2, g2 (R, D) contiguous into dx (R, D), dw, db (D), each null when not
// wanted, and sums the block partials in block order (in double).
void norm_backward_all(const Tensor& x2, const Tensor& g2, const Tensor& mean, const Tensor& rstd,
                       const Tensor& weight, const Tensor& dx, const Tensor& dw, const Tensor& db,
                       bool rms) {
  int64_t R = x2.size(0), D = x2.size(1);
  bool need_params = dw.defined() || db.defined();
  // At most 64 blocks of rows: the partials stay small, and the block boundaries (so the sums)
  // depend only on R.
  int64_t rows_per_blk = std::max<int64_t>(1, (R + 63) / 64);
  int64_t nblk = (R + rows_per_blk - 1) / rows_per_blk;
  SSM_DISPATCH_FLOAT(x2.dtype(), rms ? "rms_norm" : "layer_norm", [&] {
    using A = acc_t<scalar_t>;
    std::vector<A> w = param_vector<A>(weight, D, A(1));
    std::vector<A> part(need_params ? size_t(nblk * 2 * D) : 0);
    norm_backward<scalar_t>(static_cast<const scalar_t*>(x2.raw_data()),
                            static_cast<const scalar_t*>(g2.raw_data()),
                            rms ? nullptr : static_cast<const A*>(mean.raw_data()),
                            static_cast<const A*>(rstd.raw_data()), w.data(),
                            dx.defined() ? static_cast<scalar_t*>(dx.raw_data()) : nullptr,
                            need_params ? part.data() : nullptr, rows_per_blk, R, D, rms);
    if (!need_params) return;
    auto* dwp = dw.defined() ? static_cast<scalar_t*>(dw.raw_data()) : nullptr;
    auto* dbp = db.defined() ? static_cast<scalar_t*>(db.raw_data()) : nullptr;
    parallel_for(0, D, 4096, [&](int64_t d0, int64_t d1) {
      for (int64_t d = d0; d < d1; ++d) {
        double sw = 0, sb = 0;
        for (int64_t k = 0; k < nblk; ++k) {
          sw += double(part[size_t(k * 2 * D + d)]);
          sb += double(part[size_t(k * 2 * D + D + d)]);
        }
        if (dwp) dwp[d] = Scalar<scalar_t>::store(A(sw));
        if (dbp) dbp[d] = Scalar<scalar_t>::store(A(sb));
      }
    });
  });
}

// ---- add_rms_norm / add_layer_norm on the CPU ----------------------------------------------------
// T: x, y and dx; Res: residual, r and dresidual (T or acc_t<T>); both computed in A = acc_t<T>.
// rms: the RMSNorm (mean taken as 0, no bias); else the layer norm.

// r = x + residual, rounded to Res; mean, rstd and y from r as stored, so y = norm(r) exactly.
// x, residual, r, y: (rows, D) contiguous; residual, b and mean may be null.
template <class T, class Res>
void add_norm_forward(const T* x, const Res* res, const acc_t<T>* w, const acc_t<T>* b, T* y,
                      Res* r, acc_t<T>* mean, acc_t<T>* rstd, int64_t rows, int64_t D, double eps,
                      bool rms) {
  using A = acc_t<T>;
  using S = Scalar<Res>;
  parallel_for(0, rows, row_grain(D), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T* xr = x + i * D;
      Res* rr = r + i * D;
      for (int64_t d = 0; d < D; ++d) {
        A v = Scalar<T>::load(xr[d]);
        if (res) v += S::load(res[i * D + d]);
        rr[d] = S::store(v);
      }
      A mu = rms ? A(0) : row_sum(rr, D, [](A v, int64_t) { return v; }) / A(D);
      A ms = row_sum(rr, D, [&](A v, int64_t) { return (v - mu) * (v - mu); }) / A(D);
      A rs = A(1) / std::sqrt(ms + A(eps));
      rstd[i] = rs;
      if (mean) mean[i] = mu;
      T* yr = y + i * D;
      for (int64_t d = 0; d < D; ++d) {
        A o = (S::load(rr[d]) - mu) * rs * w[d];
        yr[d] = Scalar<T>::store(b ? o + b[d] : o);
      }
    }
  });
}

// Per row, with h = gy w and rhat = (r - mean) rstd:
//   dr = gr + rstd (h - [mean(h)] - rhat mean(h rhat))   (the bracket for the layer norm only),
// written as dx (T) and dres (Res) where wanted; gr may be null (no gradient reached r). The
// dweight partial sums (gy rhat) go to `part` (nblk, D) per fixed block of rows, as in
// norm_backward. mean is null for the RMSNorm.
template <class T, class Res>
void add_norm_backward(const Res* r, const T* gy, const Res* gr, const acc_t<T>* mean,
                       const acc_t<T>* rstd, const acc_t<T>* w, T* dx, Res* dres, acc_t<T>* part,
                       int64_t rows_per_blk, int64_t rows, int64_t D) {
  using A = acc_t<T>;
  using S = Scalar<Res>;
  int64_t nblk = (rows + rows_per_blk - 1) / rows_per_blk;
  parallel_for(0, nblk, std::max<int64_t>(1, row_grain(D) / rows_per_blk), [&](int64_t k0,
                                                                              int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      A* pw = part ? part + k * D : nullptr;
      if (pw)
        for (int64_t d = 0; d < D; ++d) pw[d] = 0;
      for (int64_t i = k * rows_per_blk; i < std::min(rows, (k + 1) * rows_per_blk); ++i) {
        const Res* rr = r + i * D;
        const T* gyr = gy + i * D;
        A rs = rstd[i], mu = mean ? mean[i] : A(0);
        if (dx || dres) {
          A shx = row_sum(gyr, D, [&](A g, int64_t d) { return g * w[d] * (S::load(rr[d]) - mu) * rs; });
          A c1 = mean ? row_sum(gyr, D, [&](A g, int64_t d) { return g * w[d]; }) / A(D) : A(0);
          A c2 = shx / A(D);
          for (int64_t d = 0; d < D; ++d) {
            A rh = (S::load(rr[d]) - mu) * rs;
            A v = rs * (Scalar<T>::load(gyr[d]) * w[d] - c1 - rh * c2);
            if (gr) v += S::load(gr[i * D + d]);
            if (dx) dx[i * D + d] = Scalar<T>::store(v);
            if (dres) dres[i * D + d] = S::store(v);
          }
        }
        if (pw)
          for (int64_t d = 0; d < D; ++d) pw[d] += Scalar<T>::load(gyr[d]) * (S::load(rr[d]) - mu) * rs;
      }
    }
  });
}

// Calls f(std::type_identity<Res>{}) with Res = T when rdt is T's dtype, else acc_t<T> (the only
// two residual dtypes add_rms_norm accepts).
template <class T, class F>
void with_residual_type(DType rdt, F&& f) {
  if (rdt == dtype_of<T>())
    f(std::type_identity<T>{});
  else
    f(std::type_identity<acc_t<T>>{});
}

// ---- CPU kernels ----------------------------------------------------------------------------

const void* ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }
void* mut_ptr(const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; }

void cpu_forward(const NormArgs& a, const Tensor& y, const NormStats& s) {
  NoGradGuard ng;
  const Tensor& x = a.x;
  int64_t D = x.size(-1), R = D == 0 ? 0 : x.numel() / D;
  Tensor x2 = x.detach().contiguous();
  SSM_DISPATCH_FLOAT(x.dtype(), a.rms ? "rms_norm" : "layer_norm", [&] {
    using A = acc_t<scalar_t>;
    std::vector<A> w = param_vector<A>(a.weight, D, A(1)), b = param_vector<A>(a.bias, D, A(0));
    norm_forward<scalar_t>(static_cast<const scalar_t*>(x2.raw_data()),
                           static_cast<scalar_t*>(y.raw_data()), static_cast<A*>(mut_ptr(s.mean)),
                           static_cast<A*>(s.rstd.raw_data()), w.data(), b.data(), R, D, a.eps,
                           a.rms);
  });
}

// The output gradient is taken to x's dtype first.
void cpu_backward(const NormArgs& a, const NormStats& s, const Tensor& gy, const Tensor& dx,
                  const Tensor& dw, const Tensor& db) {
  const Tensor& xv = a.x;
  int64_t D = xv.size(-1);
  Tensor go = gy.dtype() == xv.dtype() ? gy : gy.to(xv.dtype());
  Tensor x2 = xv.contiguous().reshape({-1, D}), g2 = go.contiguous().reshape({-1, D});
  norm_backward_all(x2, g2, s.mean, s.rstd, a.weight, dx, dw, db, a.rms);
}

void cpu_add_forward(const AddNormArgs& a, const Tensor& y, const Tensor& r, const NormStats& s) {
  int64_t D = a.x.size(-1), rows = D == 0 ? 0 : a.x.numel() / D;
  SSM_DISPATCH_FLOAT(a.x.dtype(), a.rms ? "add_rms_norm" : "add_layer_norm", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<A>(a.weight, D, A(1)), b = param_vector<A>(a.bias, D, A(0));
    with_residual_type<T>(r.dtype(), [&]<class Res>(std::type_identity<Res>) {
      add_norm_forward<T, Res>(static_cast<const T*>(a.x.raw_data()),
                               static_cast<const Res*>(ptr(a.residual)), w.data(),
                               a.bias.defined() ? b.data() : nullptr, static_cast<T*>(y.raw_data()),
                               static_cast<Res*>(r.raw_data()), static_cast<A*>(mut_ptr(s.mean)),
                               static_cast<A*>(s.rstd.raw_data()), rows, D, a.eps, a.rms);
    });
  });
}

void cpu_add_backward(const Tensor& rv, const Tensor& wv, const NormStats& s, const Tensor& gy,
                      const Tensor& gr, const Tensor& dx, const Tensor& dres, const Tensor& dw) {
  const bool rms = !s.mean.defined();
  int64_t D = rv.size(-1), rows = D == 0 ? 0 : rv.numel() / D;
  bool need_w = dw.defined();
  // At most 64 blocks of rows, as in norm_backward_all: the sums depend only on rows.
  int64_t rows_per_blk = std::max<int64_t>(1, (rows + 63) / 64);
  int64_t nblk = (rows + rows_per_blk - 1) / rows_per_blk;
  SSM_DISPATCH_FLOAT(gy.dtype(), rms ? "add_rms_norm" : "add_layer_norm", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<A>(wv, D, A(1));
    std::vector<A> part(need_w ? size_t(nblk * D) : 0);
    with_residual_type<T>(rv.dtype(), [&]<class Res>(std::type_identity<Res>) {
      add_norm_backward<T, Res>(static_cast<const Res*>(rv.raw_data()),
                                static_cast<const T*>(gy.raw_data()),
                                static_cast<const Res*>(ptr(gr)),
                                static_cast<const A*>(ptr(s.mean)),
                                static_cast<const A*>(s.rstd.raw_data()), w.data(),
                                static_cast<T*>(mut_ptr(dx)), static_cast<Res*>(mut_ptr(dres)),
                                need_w ? part.data() : nullptr, rows_per_blk, rows, D);
    });
    if (!need_w) return;
    // Block partials added in block order, in double; stored in the weight's dtype.
    std::vector<double> sum(size_t(D), 0.0);
    for (int64_t k = 0; k < nblk; ++k)
      for (int64_t d = 0; d < D; ++d) sum[size_t(d)] += double(part[size_t(k * D + d)]);
    Tensor(dw).copy_(Tensor::from_vector(sum, {D}));
  });
}

const NormKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward, cpu_add_forward,
                                 cpu_add_backward};
SSM_REGISTER_KERNELS(NormKernels, cpu, kCpuKernels);

// ---- checks and the shared forward / backward of the ops ----------------------------------------

void check_param(const Tensor& x, const Tensor& p, const char* op, const char* name) {
  if (!p.defined()) return;
  check_same_device(x, p, op);
  SSM_CHECK(p.dim() == 1 && p.size(0) == x.size(-1), op, ": ", name, " must have shape (",
            x.size(-1), ",) to match the last dim of input ", describe(x), ", got ", describe(p));
  SSM_CHECK(p.dtype() == x.dtype(), op, ": ", name, " must have the input's dtype ", x.dtype(),
            ", got ", describe(p));
}

void check_input(const Tensor& x, double eps, const char* op) {
  check_defined(x, op, "input");
  SSM_CHECK(is_floating(x.dtype()), op, ": input must be a floating tensor, got ", describe(x));
  SSM_CHECK(x.dim() >= 1, op, ": input must have at least 1 dim (..., D), got ", describe(x));
  SSM_CHECK(eps >= 0 && std::isfinite(eps), op, ": eps must be finite and >= 0, got ", eps);
}

// Forward of layer_norm / rms_norm: y, and the statistics saved for the backward.
Tensor norm_forward_all(const NormKernels& k, const NormArgs& a, NormStats& s) {
  const Tensor& x = a.x;
  int64_t D = x.size(-1), R = D == 0 ? 0 : x.numel() / D;
  DType sdt = compute_dtype(x.dtype());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  s.mean = a.rms ? Tensor() : Tensor::empty({R}, sdt, x.device());
  s.rstd = Tensor::empty({R}, sdt, x.device());
  k.forward(a, y, s);
  return y;
}

// The gradient tensors for x, weight and bias (inputs 0, 1, 2) as wanted.
void norm_grads(const NormKernels& k, Grads& g, const NormArgs& a, const NormStats& s) {
  const Tensor& xv = a.x;
  Device dev = xv.device();
  int64_t D = xv.size(-1);
  Tensor dx = g.needs(0) ? Tensor::empty(xv.shape(), xv.dtype(), dev) : Tensor();
  Tensor dw = a.weight.defined() && g.needs(1) ? Tensor::empty({D}, xv.dtype(), dev) : Tensor();
  Tensor db = !a.rms && g.needs(2) ? Tensor::empty({D}, xv.dtype(), dev) : Tensor();
  k.backward(a, s, g.out[0], dx, dw, db);
  if (dx.defined()) g.in[0] = dx;
  if (dw.defined()) g.in[1] = dw;
  if (db.defined()) g.in[2] = db;
}

// ---- add_rms_norm / add_layer_norm: checks, forward and backward ----------------------------

// The dtype of r (see ops/norm.h), after checking x, residual, weight and bias against each other.
DType add_norm_check(const char* op, const Tensor& x, const Tensor& residual, const Tensor& weight,
                     const Tensor& bias, double eps, bool residual_in_fp32) {
  check_input(x, eps, op);
  DType wide = compute_dtype(x.dtype());
  for (auto [p, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!p->defined()) continue;
    check_same_device(x, *p, op);
    SSM_CHECK(p->dim() == 1 && p->size(0) == x.size(-1), op, ": ", name, " must have shape (",
              x.size(-1), ",) to match the last dim of input ", describe(x), ", got ",
              describe(*p));
    SSM_CHECK(p->dtype() == x.dtype() || p->dtype() == wide, op, ": ", name,
              " must have the input's dtype ", x.dtype(), " or ", wide, ", got ", describe(*p));
  }
  SSM_CHECK(!weight.defined() || !bias.defined() || weight.dtype() == bias.dtype(), op,
            ": weight and bias must have one dtype, got ", describe(weight), " and ", describe(bias));
  DType rdt = residual_in_fp32 ? wide : residual.defined() ? residual.dtype() : x.dtype();
  if (residual.defined()) {
    check_same_device(x, residual, op);
    SSM_CHECK(residual.shape() == x.shape(), op, ": residual must have the input's shape, got ",
              describe(residual), " for input ", describe(x));
    if (residual_in_fp32)
      SSM_CHECK(residual.dtype() == wide, op, ": with residual_in_fp32 the residual must be ",
                wide, " (the residual stream a previous ", op, " returned), got ",
                describe(residual));
    else
      SSM_CHECK(residual.dtype() == x.dtype() || residual.dtype() == wide, op,
                ": residual must have the input's dtype ", x.dtype(), " or ", wide, ", got ",
                describe(residual));
  }
  return rdt;
}

struct AddNormForward {
  Tensor y, r;
  NormStats s;  // mean: layer norm only
};

AddNormForward add_norm_forward_all(const NormKernels& k, const Tensor& x, const Tensor& residual,
                                    const Tensor& weight, const Tensor& bias, double eps, DType rdt,
                                    bool rms) {
  NoGradGuard ng;
  Device dev = x.device();
  int64_t D = x.size(-1), rows = D == 0 ? 0 : x.numel() / D;
  Tensor x2 = x.detach().contiguous();
  Tensor res2 = residual.defined() ? residual.detach().contiguous() : Tensor();
  DType sdt = compute_dtype(x.dtype());
  AddNormForward out{Tensor::empty(x.shape(), x.dtype(), dev), Tensor::empty(x.shape(), rdt, dev),
                     {rms ? Tensor() : Tensor::empty({rows}, sdt, dev),
                      Tensor::empty({rows}, sdt, dev)}};
  k.add_forward({x2, res2, weight, bias, eps, rms}, out.y, out.r, out.s);
  return out;
}

// Inputs of the node: x (0), residual (1), weight (2) and, for the layer norm, bias (3); outputs
// y (0) and r (1). rv, wv and bv are the saved r, weight and bias (bias: its dtype only);
// s.mean is undefined for the RMSNorm.
void add_norm_grads(const NormKernels& k, Grads& g, const Tensor& rv, const Tensor& wv,
                    const Tensor& bv, const NormStats& s, DType xdt) {
  NoGradGuard ng;
  Device dev = rv.device();
  DType rdt = rv.dtype();
  int64_t D = rv.size(-1), rows = D == 0 ? 0 : rv.numel() / D;
  // gy in x's dtype (zeros when only r was used downstream); gr in r's dtype, or none.
  Tensor gy = g.out[0].defined() ? g.out[0].to(xdt).contiguous()
                                 : Tensor::zeros(rv.shape(), xdt, dev);
  Tensor gr = g.out[1].defined() ? g.out[1].to(rdt).contiguous() : Tensor();
  bool need_w = wv.defined() && g.needs(2);
  Tensor dx = g.needs(0) ? Tensor::empty(rv.shape(), xdt, dev) : Tensor();
  Tensor dres = g.needs(1) ? Tensor::empty(rv.shape(), rdt, dev) : Tensor();
  Tensor dw = need_w ? Tensor::empty({D}, wv.dtype(), dev) : Tensor();
  k.add_backward(rv, wv, s, gy, gr, dx, dres, dw);
  if (dx.defined()) g.in[0] = dx;
  if (dres.defined()) g.in[1] = dres;
  if (dw.defined()) g.in[2] = dw;
  // dbias = sum over rows of gy, in the compute dtype (a fixed-order reduction on either device).
  if (bv.defined() && g.needs(3))
    g.in[3] = sum(gy.reshape({rows, D}).to(compute_dtype(xdt)), {0}).to(bv.dtype());
}

}  // namespace

// ---- the ops ------------------------------------------------------------------------------------

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_input(x, eps, "layer_norm");
  check_param(x, weight, "layer_norm", "weight");
  check_param(x, bias, "layer_norm", "bias");
  const NormKernels& k = kernels<NormKernels>("layer_norm", x);
  NormStats s;
  Tensor y = norm_forward_all(k, {x, weight, bias, eps, false}, s);
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight);
    record(OpId::layer_norm, {x, weight, bias}, y, [sx, sw, s, &k](Grads& g) {
      norm_grads(k, g, {sx.get(), sw.get(), Tensor(), 0.0, false}, s);
    });
  }
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  check_input(x, eps, "rms_norm");
  check_param(x, weight, "rms_norm", "weight");
  const NormKernels& k = kernels<NormKernels>("rms_norm", x);
  NormStats s;
  Tensor y = norm_forward_all(k, {x, weight, Tensor(), eps, true}, s);
  if (needs_grad({x, weight})) {
    Saved sx(x), sw(weight);
    Tensor rstd = s.rstd;
    record(OpId::rms_norm, {x, weight}, y, [sx, sw, rstd, &k](Grads& g) {
      norm_grads(k, g, {sx.get(), sw.get(), Tensor(), 0.0, true}, {Tensor(), rstd});
    });
  }
  return y;
}

std::pair<Tensor, Tensor> add_rms_norm(const Tensor& x, const Tensor& residual,
                                       const Tensor& weight, double eps, bool residual_in_fp32) {
  DType rdt = add_norm_check("add_rms_norm", x, residual, weight, Tensor(), eps, residual_in_fp32);
  const NormKernels& k = kernels<NormKernels>("add_rms_norm", x);
  AddNormForward f = add_norm_forward_all(k, x, residual, weight, Tensor(), eps, rdt, true);
  if (needs_grad({x, residual, weight})) {
    Saved sr(f.r), sw(weight);
    DType xdt = x.dtype();
    Tensor rstd = f.s.rstd;
    Tensor outs[2] = {f.y, f.r};
    const Tensor ins[3] = {x, residual, weight};
    record(OpId::add_rms_norm, ins, outs, [sr, sw, rstd, xdt, &k](Grads& g) {
      add_norm_grads(k, g, sr.get(), sw.get(), Tensor(), {Tensor(), rstd}, xdt);
    });
    return {outs[0], outs[1]};
  }
  return {f.y, f.r};
}

std::pair<Tensor, Tensor> add_layer_norm(const Tensor& x, const Tensor& residual,
                                         const Tensor& weight, const Tensor& bias, double eps,
                                         bool residual_in_fp32) {
  DType rdt = add_norm_check("add_layer_norm", x, residual, weight, bias, eps, residual_in_fp32);
  const NormKernels& k = kernels<NormKernels>("add_layer_norm", x);
  AddNormForward f = add_norm_forward_all(k, x, residual, weight, bias, eps, rdt, false);
  if (needs_grad({x, residual, weight, bias})) {
    Saved sr(f.r), sw(weight);
    DType xdt = x.dtype();
    NormStats s = f.s;
    // The bias's values do not enter the backward; an empty tensor of its dtype stands for it.
    Tensor bdt = bias.defined() ? Tensor::empty({0}, bias.dtype(), bias.device()) : Tensor();
    Tensor outs[2] = {f.y, f.r};
    const Tensor ins[4] = {x, residual, weight, bias};
    record(OpId::add_layer_norm, ins, outs, [sr, sw, bdt, s, xdt, &k](Grads& g) {
      add_norm_grads(k, g, sr.get(), sw.get(), bdt, s, xdt);
    });
    return {outs[0], outs[1]};
  }
  return {f.y, f.r};
}

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/norm.py). weight, bias and
// add_rms_norm's / add_layer_norm's residual are optional: args say which are present, and the
// present ones follow x in the inputs. ------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

json ln_args(bool weight, bool bias, double eps = 1e-5) {
  return {{"weight", weight}, {"bias", bias}, {"eps", eps}};
}

SSM_OP_INFO({.name = "layer_norm",
             .nodes = {OpId::layer_norm},
             .run = [](const Tensors& in, const json& a) {
               size_t k = 1;
               Tensor w = a.at("weight").get<bool>() ? in[k++] : Tensor();
               Tensor b = a.at("bias").get<bool>() ? in[k++] : Tensor();
               return Tensors{layer_norm(in[0], w, b, a.at("eps").get<double>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"weight and bias", {randn(g, {3, 8}), randn(g, {8}), randn(g, {8})}, ln_args(true, true)},
                   {"3-d, no affine", {randn(g, {2, 3, 5})}, ln_args(false, false)},
                   {"weight only, non-contiguous", {noncontig(randn(g, {4, 6})), randn(g, {6})},
                    ln_args(true, false)},
                   {"bias only, eps 1e-3", {randn(g, {5, 7}), randn(g, {7})}, ln_args(false, true, 1e-3)},
                   {"1-d", {randn(g, {6}), randn(g, {6}), randn(g, {6})}, ln_args(true, true)},
                   {"odd D with lanes and tail", {randn(g, {2, 19}), randn(g, {19}), randn(g, {19})},
                    ln_args(true, true)},
               };
             }});

json rms_args(bool weight, double eps = 1e-6) { return {{"weight", weight}, {"eps", eps}}; }

SSM_OP_INFO({.name = "rms_norm",
             .nodes = {OpId::rms_norm},
             .run = [](const Tensors& in, const json& a) {
               Tensor w = a.at("weight").get<bool>() ? in[1] : Tensor();
               return Tensors{rms_norm(in[0], w, a.at("eps").get<double>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"weight", {randn(g, {3, 8}), randn(g, {8})}, rms_args(true)},
                   {"3-d, no weight", {randn(g, {2, 3, 5})}, rms_args(false)},
                   {"non-contiguous", {noncontig(randn(g, {4, 6})), randn(g, {6})}, rms_args(true)},
                   {"1-d, eps 1e-3", {randn(g, {6}), randn(g, {6})}, rms_args(true, 1e-3)},
                   {"odd D with lanes and tail", {randn(g, {2, 19}), randn(g, {19})}, rms_args(true)},
               };
             }});

// The inputs of the fused add + norm ops after x, as the args say which are present (bias only
// where the args have the key), and cast as the model casts them: with residual_in_fp32 the
// residual stream is float32 (as a previous layer returned it), and with `param_fp32_key` set the
// weight (and bias) are float32 master weights, as under autocast. Casting the sample's inputs (a
// no-op in float64) makes the bf16 / f16 runs take the mixed-dtype paths the model takes.
struct FusedNormInputs {
  Tensor res, w, b;
  bool fp32;
};
FusedNormInputs fused_norm_inputs(const Tensors& in, const json& a, const char* param_fp32_key) {
  size_t k = 1;
  FusedNormInputs f;
  f.res = a.at("residual").get<bool>() ? in[k++] : Tensor();
  f.w = a.at("weight").get<bool>() ? in[k++] : Tensor();
  f.b = a.contains("bias") && a.at("bias").get<bool>() ? in[k++] : Tensor();
  f.fp32 = a.at("residual_in_fp32").get<bool>();
  DType wide = compute_dtype(in[0].dtype());
  if (f.fp32 && f.res.defined()) f.res = f.res.to(wide);
  if (a.at(param_fp32_key).get<bool>()) {
    if (f.w.defined()) f.w = f.w.to(wide);
    if (f.b.defined()) f.b = f.b.to(wide);
  }
  return f;
}

// Output 1 (r) is the float32 stream under residual_in_fp32; the rest keep the input's dtype.
DType fused_norm_out_dtype(DType dt, size_t k, const json& a) {
  return k == 1 && a.at("residual_in_fp32").get<bool>() ? compute_dtype(dt) : dt;
}

json add_rms_args(bool residual, bool weight, bool fp32, bool weight_fp32 = false,
                  double eps = 1e-6) {
  return {{"residual", residual}, {"weight", weight}, {"residual_in_fp32", fp32},
          {"weight_fp32", weight_fp32}, {"eps", eps}};
}

// Both outputs, y and r, are returned, so the checks send gradients into both.
SSM_OP_INFO({.name = "add_rms_norm",
             .nodes = {OpId::add_rms_norm},
             .run = [](const Tensors& in, const json& a) {
               FusedNormInputs f = fused_norm_inputs(in, a, "weight_fp32");
               auto [y, r] = add_rms_norm(in[0], f.res, f.w, a.at("eps").get<double>(), f.fp32);
               return Tensors{y, r};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"residual and weight", {randn(g, {3, 8}), randn(g, {3, 8}), randn(g, {8})},
                    add_rms_args(true, true, false)},
                   {"residual_in_fp32, float32 weight",
                    {randn(g, {2, 3, 8}), randn(g, {2, 3, 8}), randn(g, {8})},
                    add_rms_args(true, true, true, true)},
                   {"first layer: no residual, residual_in_fp32", {randn(g, {4, 6}), randn(g, {6})},
                    add_rms_args(false, true, true)},
                   {"no residual, no weight", {randn(g, {2, 5})}, add_rms_args(false, false, false)},
                   {"non-contiguous x and residual",
                    {noncontig(randn(g, {4, 6})), noncontig(randn(g, {4, 6})), randn(g, {6})},
                    add_rms_args(true, true, true)},
                   {"1-d, eps 1e-3", {randn(g, {6}), randn(g, {6}), randn(g, {6})},
                    add_rms_args(true, true, false, false, 1e-3)},
                   {"odd D with lanes and tail", {randn(g, {2, 37}), randn(g, {2, 37}), randn(g, {37})},
                    add_rms_args(true, true, true, true)},
                   // residual_in_fp32 here: a 16-bit r would add a rounding per row to the
                   // weight gradient that the float64 reference does not have (70 rows of it).
                   {"more rows than weight-gradient blocks",
                    {randn(g, {70, 3}), randn(g, {70, 3}), randn(g, {3})},
                    add_rms_args(true, true, true)},
               };
             },
             .lowp_out_dtype = fused_norm_out_dtype});

json add_ln_args(bool residual, bool weight, bool bias, bool fp32, bool param_fp32 = false,
                 double eps = 1e-5) {
  return {{"residual", residual}, {"weight", weight}, {"bias", bias}, {"residual_in_fp32", fp32},
          {"param_fp32", param_fp32}, {"eps", eps}};
}

// As add_rms_norm, with a layer norm and an optional bias (a pre-norm Transformer block's add +
// LayerNorm); param_fp32 makes the 16-bit runs use float32 weight and bias.
SSM_OP_INFO({.name = "add_layer_norm",
             .nodes = {OpId::add_layer_norm},
             .run = [](const Tensors& in, const json& a) {
               FusedNormInputs f = fused_norm_inputs(in, a, "param_fp32");
               auto [y, r] = add_layer_norm(in[0], f.res, f.w, f.b, a.at("eps").get<double>(), f.fp32);
               return Tensors{y, r};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"residual, weight and bias",
                    {randn(g, {3, 8}), randn(g, {3, 8}), randn(g, {8}), randn(g, {8})},
                    add_ln_args(true, true, true, false)},
                   {"residual_in_fp32, float32 weight and bias",
                    {randn(g, {2, 3, 8}), randn(g, {2, 3, 8}), randn(g, {8}), randn(g, {8})},
                    add_ln_args(true, true, true, true, true)},
                   {"first layer: no residual, no bias", {randn(g, {4, 6}), randn(g, {6})},
                    add_ln_args(false, true, false, true)},
                   {"no residual, no affine", {randn(g, {2, 5})}, add_ln_args(false, false, false, false)},
                   {"bias only, non-contiguous x and residual",
                    {noncontig(randn(g, {4, 6})), noncontig(randn(g, {4, 6})), randn(g, {6})},
                    add_ln_args(true, false, true, true)},
                   {"1-d, eps 1e-3", {randn(g, {6}), randn(g, {6}), randn(g, {6}), randn(g, {6})},
                    add_ln_args(true, true, true, false, false, 1e-3)},
                   {"D of 16 (warp-per-row kernels on CUDA)",
                    {randn(g, {3, 16}), randn(g, {3, 16}), randn(g, {16}), randn(g, {16})},
                    add_ln_args(true, true, true, true, true)},
                   {"odd D with lanes and tail",
                    {randn(g, {2, 37}), randn(g, {2, 37}), randn(g, {37}), randn(g, {37})},
                    add_ln_args(true, true, true, true, true)},
                   {"more rows than weight-gradient blocks",
                    {randn(g, {70, 3}), randn(g, {70, 3}), randn(g, {3}), randn(g, {3})},
                    add_ln_args(true, true, true, true)},
               };
             },
             .lowp_out_dtype = fused_norm_out_dtype});

}  // namespace
}  // namespace testing

}  // namespace ssm
