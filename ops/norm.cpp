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
#include "ops/reduce.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/nd_index.h"
#include "ops/cuda/norm_cuda.h"
#endif

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

struct NormGrads {
  Tensor dx, dw, db;
};

// Runs norm_backward and sums the block partials in block order (in double).
NormGrads norm_backward_all(const Tensor& x2, const Tensor& g2, const Tensor& mean,
                            const Tensor& rstd, const Tensor& weight, bool need_dx,
                            bool need_params, bool rms) {
  int64_t R = x2.size(0), D = x2.size(1);
  // At most 64 blocks of rows: the partials stay small, and the block boundaries (so the sums)
  // depend only on R.
  int64_t rows_per_blk = std::max<int64_t>(1, (R + 63) / 64);
  int64_t nblk = (R + rows_per_blk - 1) / rows_per_blk;
  NormGrads out;
  SSM_DISPATCH_FLOAT(x2.dtype(), rms ? "rms_norm" : "layer_norm", [&] {
    using A = acc_t<scalar_t>;
    std::vector<A> w = param_vector<A>(weight, D, A(1));
    std::vector<A> part(need_params ? size_t(nblk * 2 * D) : 0);
    if (need_dx) out.dx = Tensor::empty(x2.shape(), x2.dtype());
    norm_backward<scalar_t>(static_cast<const scalar_t*>(x2.raw_data()),
                            static_cast<const scalar_t*>(g2.raw_data()),
                            rms ? nullptr : static_cast<const A*>(mean.raw_data()),
                            static_cast<const A*>(rstd.raw_data()), w.data(),
                            need_dx ? static_cast<scalar_t*>(out.dx.raw_data()) : nullptr,
                            need_params ? part.data() : nullptr, rows_per_blk, R, D, rms);
    if (!need_params) return;
    out.dw = Tensor::empty({D}, x2.dtype());
    out.db = Tensor::empty({D}, x2.dtype());
    auto* dw = static_cast<scalar_t*>(out.dw.raw_data());
    auto* db = static_cast<scalar_t*>(out.db.raw_data());
    parallel_for(0, D, 4096, [&](int64_t d0, int64_t d1) {
      for (int64_t d = d0; d < d1; ++d) {
        double sw = 0, sb = 0;
        for (int64_t k = 0; k < nblk; ++k) {
          sw += double(part[size_t(k * 2 * D + d)]);
          sb += double(part[size_t(k * 2 * D + D + d)]);
        }
        dw[d] = Scalar<scalar_t>::store(A(sw));
        db[d] = Scalar<scalar_t>::store(A(sb));
      }
    });
  });
  return out;
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
#ifndef SSM_WITH_CUDA
  SSM_CHECK(x.device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(x));
#endif
  SSM_CHECK(is_floating(x.dtype()), op, ": input must be a floating tensor, got ", describe(x));
  SSM_CHECK(x.dim() >= 1, op, ": input must have at least 1 dim (..., D), got ", describe(x));
  SSM_CHECK(eps >= 0 && std::isfinite(eps), op, ": eps must be finite and >= 0, got ", eps);
}

#ifdef SSM_WITH_CUDA
// ---- CUDA (kernels in ops/cuda/norm.cu): x, g, weight and bias are read with their strides ------

cuda::NormProblem cuda_problem(const Tensor& x, const Tensor& weight, const Tensor& bias,
                               double eps, bool rms) {
  cuda::NormProblem p;
  p.device = x.device().index;
  p.dtype = x.dtype();
  p.D = x.size(-1);
  p.R = p.D == 0 ? 0 : x.numel() / p.D;
  p.x = x.raw_data();
  p.rows = cuda::nd_index(x, x.dim() - 1);
  p.sd = x.stride(-1);
  if (weight.defined()) {
    p.w = weight.raw_data();
    p.ws = weight.stride(0);
  }
  if (bias.defined()) {
    p.b = bias.raw_data();
    p.bs = bias.stride(0);
  }
  p.eps = eps;
  p.rms = rms;
  return p;
}

Tensor norm_forward_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                         bool rms, Tensor& mean, Tensor& rstd) {
  cuda::NormProblem p = cuda_problem(x, weight, bias, eps, rms);
  DType sdt = compute_dtype(x.dtype());
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  mean = rms ? Tensor() : Tensor::empty({p.R}, sdt, x.device());
  rstd = Tensor::empty({p.R}, sdt, x.device());
  cuda::norm_forward(p, y.raw_data(), rms ? nullptr : mean.raw_data(), rstd.raw_data());
  return y;
}

void norm_grads_cuda(Grads& g, const Tensor& xv, const Tensor& wv, const Tensor& mean,
                     const Tensor& rstd, bool rms) {
  const Tensor& go = g.out[0];
  SSM_CHECK(go.dtype() == xv.dtype() && go.device() == xv.device(), rms ? "rms_norm" : "layer_norm",
            ": backward expects the output gradient in the input's dtype and device, got ",
            describe(go));
  cuda::NormProblem p = cuda_problem(xv, wv, Tensor(), 0.0, rms);
  Device dev = xv.device();
  int64_t D = p.D;
  Tensor dx = g.needs(0) ? Tensor::empty(xv.shape(), xv.dtype(), dev) : Tensor();
  Tensor dw = wv.defined() && g.needs(1) ? Tensor::empty({D}, xv.dtype(), dev) : Tensor();
  Tensor db = !rms && g.needs(2) ? Tensor::empty({D}, xv.dtype(), dev) : Tensor();
  auto ptr = [](const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; };
  cuda::norm_backward(p, go.raw_data(), cuda::nd_index(go, go.dim() - 1), go.stride(-1),
                      ptr(mean), rstd.raw_data(), ptr(dx), ptr(dw), ptr(db));
  if (dx.defined()) g.in[0] = dx;
  if (dw.defined()) g.in[1] = dw;
  if (db.defined()) g.in[2] = db;
}

// add_rms_norm / add_layer_norm: the kernels read contiguous rows (x, residual, r and the
// gradients are made contiguous here, a no-op for the model's activations).
cuda::AddNormProblem add_norm_problem(DType xdt, DType rdt, const Tensor& weight,
                                      const Tensor& bias, int64_t rows, int64_t D, Device dev,
                                      double eps, bool rms) {
  cuda::AddNormProblem p;
  p.device = dev.index;
  p.dtype = xdt;
  p.rdtype = rdt;
  p.wdtype = weight.defined() ? weight.dtype() : bias.defined() ? bias.dtype() : xdt;
  p.R = rows;
  p.D = D;
  p.w = weight.defined() ? weight.raw_data() : nullptr;
  p.b = bias.defined() ? bias.raw_data() : nullptr;
  p.eps = eps;
  p.rms = rms;
  return p;
}
#endif

// Forward of either norm; returns y and fills mean (layer_norm only) and rstd, shape (R).
Tensor norm_forward_all(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps,
                        bool rms, Tensor& mean, Tensor& rstd) {
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) return norm_forward_cuda(x, weight, bias, eps, rms, mean, rstd);
#endif
  NoGradGuard ng;
  int64_t D = x.size(-1), R = D == 0 ? 0 : x.numel() / D;
  Tensor x2 = x.detach().contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  DType sdt = compute_dtype(x.dtype());
  mean = rms ? Tensor() : Tensor::empty({R}, sdt);
  rstd = Tensor::empty({R}, sdt);
  SSM_DISPATCH_FLOAT(x.dtype(), rms ? "rms_norm" : "layer_norm", [&] {
    using A = acc_t<scalar_t>;
    std::vector<A> w = param_vector<A>(weight, D, A(1)), b = param_vector<A>(bias, D, A(0));
    norm_forward<scalar_t>(static_cast<const scalar_t*>(x2.raw_data()),
                           static_cast<scalar_t*>(y.raw_data()),
                           rms ? nullptr : static_cast<A*>(mean.raw_data()),
                           static_cast<A*>(rstd.raw_data()), w.data(), b.data(), R, D, eps, rms);
  });
  return y;
}

// The gradient tensors for x (R rows of D, back in x's shape), weight and bias as needed.
void norm_grads(Grads& g, const Tensor& xv, const Tensor& wv, const Tensor& mean,
                const Tensor& rstd, bool rms) {
#ifdef SSM_WITH_CUDA
  if (xv.device().is_cuda()) return norm_grads_cuda(g, xv, wv, mean, rstd, rms);
#endif
  int64_t D = xv.size(-1);
  Tensor go = g.out[0].dtype() == xv.dtype() ? g.out[0] : g.out[0].to(xv.dtype());
  Tensor x2 = xv.contiguous().reshape({-1, D}), g2 = go.contiguous().reshape({-1, D});
  bool need_params = (wv.defined() && g.needs(1)) || (!rms && g.needs(2));
  NormGrads r = norm_backward_all(x2, g2, mean, rstd, wv, g.needs(0), need_params, rms);
  if (g.needs(0)) g.in[0] = r.dx.view(xv.shape());
  if (wv.defined() && g.needs(1)) g.in[1] = r.dw;
  if (!rms && g.needs(2)) g.in[2] = r.db;
}

// ---- add_rms_norm / add_layer_norm: checks, forward and backward on either device ---------------

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
  Tensor y, r, mean, rstd;  // mean: layer norm only
};

AddNormForward add_norm_forward_all(const Tensor& x, const Tensor& residual, const Tensor& weight,
                                    const Tensor& bias, double eps, DType rdt, bool rms) {
  NoGradGuard ng;
  Device dev = x.device();
  int64_t D = x.size(-1), rows = D == 0 ? 0 : x.numel() / D;
  Tensor x2 = x.detach().contiguous();
  Tensor res2 = residual.defined() ? residual.detach().contiguous() : Tensor();
  DType sdt = compute_dtype(x.dtype());
  AddNormForward out{Tensor::empty(x.shape(), x.dtype(), dev), Tensor::empty(x.shape(), rdt, dev),
                     rms ? Tensor() : Tensor::empty({rows}, sdt, dev), Tensor::empty({rows}, sdt, dev)};
  auto ptr = [](const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; };
#ifdef SSM_WITH_CUDA
  if (dev.is_cuda()) {
    Tensor w2 = weight.defined() ? weight.detach().contiguous() : Tensor();
    Tensor b2 = bias.defined() ? bias.detach().contiguous() : Tensor();
    cuda::add_norm_forward(add_norm_problem(x.dtype(), rdt, w2, b2, rows, D, dev, eps, rms),
                           x2.raw_data(), ptr(res2), out.y.raw_data(), out.r.raw_data(),
                           ptr(out.mean), out.rstd.raw_data());
    return out;
  }
#endif
  SSM_DISPATCH_FLOAT(x.dtype(), rms ? "add_rms_norm" : "add_layer_norm", [&] {
    using T = scalar_t;
    using A = acc_t<T>;
    std::vector<A> w = param_vector<A>(weight, D, A(1)), b = param_vector<A>(bias, D, A(0));
    with_residual_type<T>(rdt, [&]<class Res>(std::type_identity<Res>) {
      add_norm_forward<T, Res>(static_cast<const T*>(x2.raw_data()),
                               static_cast<const Res*>(ptr(res2)), w.data(),
                               bias.defined() ? b.data() : nullptr,
                               static_cast<T*>(out.y.raw_data()), static_cast<Res*>(out.r.raw_data()),
                               static_cast<A*>(ptr(out.mean)), static_cast<A*>(out.rstd.raw_data()),
                               rows, D, eps, rms);
    });
  });
  return out;
}

// Inputs of the node: x (0), residual (1), weight (2) and, for the layer norm, bias (3); outputs
// y (0) and r (1). rv, wv and bv are the saved r, weight and bias (bias: its dtype only);
// mean is undefined for the RMSNorm.
void add_norm_grads(Grads& g, const Tensor& rv, const Tensor& wv, const Tensor& bv,
                    const Tensor& mean, const Tensor& rstd, DType xdt) {
  NoGradGuard ng;
  const bool rms = !mean.defined();
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
  auto ptr = [](const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; };
#ifdef SSM_WITH_CUDA
  if (dev.is_cuda()) {
    Tensor w2 = wv.defined() ? wv.contiguous() : Tensor();
    cuda::add_norm_backward(add_norm_problem(xdt, rdt, w2, Tensor(), rows, D, dev, 0.0, rms),
                            rv.raw_data(), gy.raw_data(), ptr(gr), ptr(mean), rstd.raw_data(),
                            ptr(dx), ptr(dres), ptr(dw));
  } else
#endif
  {
    // At most 64 blocks of rows, as in norm_backward_all: the sums depend only on rows.
    int64_t rows_per_blk = std::max<int64_t>(1, (rows + 63) / 64);
    int64_t nblk = (rows + rows_per_blk - 1) / rows_per_blk;
    SSM_DISPATCH_FLOAT(xdt, rms ? "add_rms_norm" : "add_layer_norm", [&] {
      using T = scalar_t;
      using A = acc_t<T>;
      std::vector<A> w = param_vector<A>(wv, D, A(1));
      std::vector<A> part(need_w ? size_t(nblk * D) : 0);
      with_residual_type<T>(rdt, [&]<class Res>(std::type_identity<Res>) {
        add_norm_backward<T, Res>(static_cast<const Res*>(rv.raw_data()),
                                  static_cast<const T*>(gy.raw_data()),
                                  static_cast<const Res*>(ptr(gr)),
                                  static_cast<const A*>(ptr(mean)),
                                  static_cast<const A*>(rstd.raw_data()), w.data(),
                                  static_cast<T*>(ptr(dx)), static_cast<Res*>(ptr(dres)),
                                  need_w ? part.data() : nullptr, rows_per_blk, rows, D);
      });
      if (!need_w) return;
      // Block partials added in block order, in double; stored in the weight's dtype.
      std::vector<double> sum(size_t(D), 0.0);
      for (int64_t k = 0; k < nblk; ++k)
        for (int64_t d = 0; d < D; ++d) sum[size_t(d)] += double(part[size_t(k * D + d)]);
      dw.copy_(Tensor::from_vector(sum, {D}));
    });
  }
  if (dx.defined()) g.in[0] = dx;
  if (dres.defined()) g.in[1] = dres;
  if (dw.defined()) g.in[2] = dw;
  // dbias = sum over rows of gy, in the compute dtype (a fixed-order reduction on either device).
  if (bv.defined() && g.needs(3))
    g.in[3] = sum(gy.reshape({rows, D}).to(compute_dtype(xdt)), {0}).to(bv.dtype());
}

}  // namespace

Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  check_input(x, eps, "layer_norm");
  check_param(x, weight, "layer_norm", "weight");
  check_param(x, bias, "layer_norm", "bias");
  Tensor mean, rstd;
  Tensor y = norm_forward_all(x, weight, bias, eps, false, mean, rstd);
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight);
    record(OpId::layer_norm, {x, weight, bias}, y, [sx, sw, mean, rstd](Grads& g) {
      norm_grads(g, sx.get(), sw.get(), mean, rstd, false);
    });
  }
  return y;
}

Tensor rms_norm(const Tensor& x, const Tensor& weight, double eps) {
  check_input(x, eps, "rms_norm");
  check_param(x, weight, "rms_norm", "weight");
  Tensor mean, rstd;
  Tensor y = norm_forward_all(x, weight, Tensor(), eps, true, mean, rstd);
  if (needs_grad({x, weight})) {
    Saved sx(x), sw(weight);
    record(OpId::rms_norm, {x, weight}, y, [sx, sw, rstd](Grads& g) {
      norm_grads(g, sx.get(), sw.get(), Tensor(), rstd, true);
    });
  }
  return y;
}

std::pair<Tensor, Tensor> add_rms_norm(const Tensor& x, const Tensor& residual,
                                       const Tensor& weight, double eps, bool residual_in_fp32) {
  DType rdt = add_norm_check("add_rms_norm", x, residual, weight, Tensor(), eps, residual_in_fp32);
  AddNormForward f = add_norm_forward_all(x, residual, weight, Tensor(), eps, rdt, true);
  if (needs_grad({x, residual, weight})) {
    Saved sr(f.r), sw(weight);
    DType xdt = x.dtype();
    Tensor rstd = f.rstd;
    Tensor outs[2] = {f.y, f.r};
    const Tensor ins[3] = {x, residual, weight};
    record(OpId::add_rms_norm, ins, outs, [sr, sw, rstd, xdt](Grads& g) {
      add_norm_grads(g, sr.get(), sw.get(), Tensor(), Tensor(), rstd, xdt);
    });
    return {outs[0], outs[1]};
  }
  return {f.y, f.r};
}

std::pair<Tensor, Tensor> add_layer_norm(const Tensor& x, const Tensor& residual,
                                         const Tensor& weight, const Tensor& bias, double eps,
                                         bool residual_in_fp32) {
  DType rdt = add_norm_check("add_layer_norm", x, residual, weight, bias, eps, residual_in_fp32);
  AddNormForward f = add_norm_forward_all(x, residual, weight, bias, eps, rdt, false);
  if (needs_grad({x, residual, weight, bias})) {
    Saved sr(f.r), sw(weight);
    DType xdt = x.dtype();
    Tensor mean = f.mean, rstd = f.rstd;
    // The bias's values do not enter the backward; an empty tensor of its dtype stands for it.
    Tensor bdt = bias.defined() ? Tensor::empty({0}, bias.dtype(), bias.device()) : Tensor();
    Tensor outs[2] = {f.y, f.r};
    const Tensor ins[4] = {x, residual, weight, bias};
    record(OpId::add_layer_norm, ins, outs, [sr, sw, bdt, mean, rstd, xdt](Grads& g) {
      add_norm_grads(g, sr.get(), sw.get(), bdt, mean, rstd, xdt);
    });
    return {outs[0], outs[1]};
  }
  return {f.y, f.r};
}

}  // namespace ssm
