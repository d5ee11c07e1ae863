// cross_entropy: fused log-softmax + negative log-likelihood (+ label smoothing), forward and
// backward.
//
// The logits are brought to (M, C) rows, M = N * d1 * ..., with the class dim last (a view for
// (N, C) contiguous logits, one copy otherwise). Forward keeps, per row, logsumexp (float64) and
// nothing else; backward recomputes softmax from the logits.
#include "ops/cross_entropy.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/cross_entropy_cuda.h"
#include "ops/cuda/nd_index.h"
#endif

namespace ssm {

namespace {

const char* kOp = "cross_entropy";

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_item, 1));
}

// "(3, 5)" for flat row-major position i of `shape`.
std::string position(int64_t i, const Shape& shape) {
  Shape idx;
  idx.resize(shape.size());
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[d] = i % shape[d];
    i /= shape[d];
  }
  std::string s = idx.str();
  return shape.size() == 1 ? s.substr(0, s.size() - 2) + ")" : s;  // "(3)" rather than "(3,)"
}

// Per row m with target t (not ignored): lse[m] = logsumexp(x_m),
// loss[m] = lse - (1 - eps) x_m[t] - (eps / C) sum_c x_m[c]. Ignored rows: 0 and 0.
// x: (M, C) contiguous.
template <class T>
void forward_rows(const T* x, const int64_t* tgt, int64_t M, int64_t C, int64_t ignore,
                  double eps, double* lse, double* loss) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  parallel_for(0, M, grain_for(C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      int64_t t = tgt[m];
      if (t == ignore) {
        lse[m] = 0;
        loss[m] = 0;
        continue;
      }
      const T* row = x + m * C;
      Acc mx = -std::numeric_limits<Acc>::infinity();
      for (int64_t c = 0; c < C; ++c) {
        Acc v = S::load(row[c]);
        mx = v > mx ? v : mx;
      }
      double s = 0;
      for (int64_t c = 0; c < C; ++c) s += double(std::exp(S::load(row[c]) - mx));
      double l = double(mx) + std::log(s);
      double val = l - (1.0 - eps) * double(S::load(row[t]));
      if (eps > 0) {  // only then: a -inf logit must not turn 0 * -inf into NaN
        double sx = 0;
        for (int64_t c = 0; c < C; ++c) sx += double(S::load(row[c]));
        val -= eps / double(C) * sx;
      }
      lse[m] = l;
      loss[m] = val;
    }
  });
}

// dx_m[c] = w_m (exp(x_m[c] - lse_m) - eps / C - (1 - eps) [c == t_m]); 0 for ignored rows.
// w_m = w[m] when w is not null, else w_all.
template <class T>
void backward_rows(const T* x, const int64_t* tgt, const double* lse, const double* w,
                   double w_all, int64_t M, int64_t C, int64_t ignore, double eps, T* dx) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  parallel_for(0, M, grain_for(C), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      const T* row = x + m * C;
      T* drow = dx + m * C;
      int64_t t = tgt[m];
      if (t == ignore) {
        for (int64_t c = 0; c < C; ++c) drow[c] = S::store(Acc(0));
        continue;
      }
      Acc wm = Acc(w ? w[m] : w_all), l = Acc(lse[m]), smooth = Acc(eps / double(C));
      for (int64_t c = 0; c < C; ++c) drow[c] = S::store(wm * (std::exp(S::load(row[c]) - l) - smooth));
      drow[t] = S::store(wm * (std::exp(S::load(row[t]) - l) - smooth - Acc(1.0 - eps)));
    }
  });
}


#ifdef SSM_WITH_CUDA
// ---- CUDA (kernels in ops/cuda/cross_entropy.cu) ------------------------------------------------
// Logits and target are read in place with their strides; the gradient is written in the layout
// of the logits' contiguous copy. Saved: logits, target, per-row logsumexp and the count.

// The rows of t: every dim but `cdim`, in order.
cuda::NdIndex rows_without(const Shape& shape, const Shape& strides, int cdim) {
  cuda::NdIndex ix;
  for (int d = 0; d < shape.size(); ++d) {
    if (d == cdim || shape[d] == 1) continue;
    ix.size[ix.n] = shape[d];
    ix.stride[ix.n] = strides[d];
    ++ix.n;
  }
  return ix;
}

cuda::CrossEntropyProblem ce_problem(const Tensor& logits, const Tensor& target,
                                     const CrossEntropyOptions& o, int cdim, int64_t C, int64_t M) {
  cuda::CrossEntropyProblem p;
  p.device = logits.device().index;
  p.dtype = logits.dtype();
  p.M = M;
  p.C = C;
  p.x = logits.raw_data();
  p.rows = rows_without(logits.shape(), logits.strides(), cdim);
  p.cs = logits.stride(cdim);
  p.target = target.raw_data();
  p.target_i32 = target.dtype() == DType::i32;
  p.trows = cuda::nd_index(target, target.dim());
  p.ignore = o.ignore_index;
  p.eps = o.label_smoothing;
  p.reduction = o.reduction == Reduction::none ? 0 : o.reduction == Reduction::mean ? 1 : 2;
  return p;
}

Tensor cross_entropy_cuda(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o,
                          int cdim, const Shape& expected, int64_t C, int64_t M) {
  Device dev = logits.device();
  cuda::CrossEntropyProblem p = ce_problem(logits, target, o, cdim, C, M);
  Tensor lse = Tensor::empty(Shape{M}, DType::f64, dev);
  Tensor count = Tensor::empty(Shape{}, DType::i64, dev);
  Tensor out = o.reduction == Reduction::none ? Tensor::empty(expected, logits.dtype(), dev)
                                              : Tensor::empty(Shape{}, logits.dtype(), dev);
  int64_t bad_value = 0;
  int64_t bad = cuda::cross_entropy_forward(p, static_cast<double*>(lse.raw_data()),
                                            static_cast<int64_t*>(count.raw_data()), out.raw_data(),
                                            &bad_value);
  SSM_CHECK(bad < 0, kOp, ": target at position ", position(bad, expected), " is ", bad_value,
            ", outside [0, ", C, ") for C = ", C, " classes (and not ignore_index ",
            o.ignore_index, ")");
  if (needs_grad({logits})) {
    Saved sx(logits), st(target);
    CrossEntropyOptions opt = o;
    record(OpId::cross_entropy, {logits}, out, [sx, st, lse, count, opt, cdim, C, M](Grads& g) {
      const Tensor &xv = sx.get(), &tv = st.get();
      Tensor go = g.out[0].is_contiguous() ? g.out[0] : g.out[0].contiguous();
      SSM_CHECK(go.device() == xv.device() && is_floating(go.dtype()), kOp,
                ": backward expects a floating output gradient on ", xv.device(), ", got ",
                describe(go));
      cuda::CrossEntropyProblem p = ce_problem(xv, tv, opt, cdim, C, M);
      Tensor dx = Tensor::empty(xv.shape(), xv.dtype(), xv.device());
      cuda::cross_entropy_backward(p, static_cast<const double*>(lse.raw_data()),
                                   static_cast<const int64_t*>(count.raw_data()), go.raw_data(),
                                   go.dtype(), dx.raw_data(),
                                   rows_without(dx.shape(), dx.strides(), cdim), dx.stride(cdim));
      g.in[0] = dx;
    });
  }
  return out;
}
#endif

}  // namespace

Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  check_defined(logits, kOp, "logits");
  check_defined(target, kOp, "target");
#ifdef SSM_WITH_CUDA
  check_same_device(logits, target, kOp);
#else
  SSM_CHECK(logits.device().is_cpu() && target.device().is_cpu(), kOp,
            ": no CUDA kernel in this build (logits ", describe(logits), ", target ",
            describe(target), ")");
#endif
  SSM_CHECK(is_floating(logits.dtype()), kOp, ": logits must be a floating tensor, got ",
            describe(logits));
  SSM_CHECK(is_index(target.dtype()), kOp,
            ": target must hold class indices as int64 or int32, got ", describe(target));
  SSM_CHECK(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0, kOp,
            ": label_smoothing must be in [0, 1], got ", o.label_smoothing);
  SSM_CHECK(logits.dim() >= 1, kOp, ": logits must have shape (N, C), (C) or (N, C, d1, ...), got ",
            describe(logits));
  const int cdim = logits.dim() == 1 ? 0 : 1;
  Shape expected = logits.shape();
  expected.erase(cdim);
  SSM_CHECK(target.shape() == expected, kOp, ": target ", describe(target),
            " does not match logits ", describe(logits), " (expected target shape ", expected,
            ": the logits' shape without the class dim ", cdim, ")");
  const int64_t C = logits.shape()[cdim], M = expected.numel();
  const int64_t ignore = o.ignore_index;
  const double eps = o.label_smoothing;
#ifdef SSM_WITH_CUDA
  if (logits.device().is_cuda()) return cross_entropy_cuda(logits, target, o, cdim, expected, C, M);
#endif

  Tensor tgt, x, lse, out;
  Shape perm;
  int64_t count = 0;
  {
    NoGradGuard ng;  // the kernels build no graph; the op records its own node below
    tgt = target.to(DType::i64).contiguous();
    const int64_t* pt = static_cast<const int64_t*>(tgt.raw_data());
    for (int64_t m = 0; m < M; ++m) {
      if (pt[m] == ignore) continue;
      SSM_CHECK(pt[m] >= 0 && pt[m] < C, kOp, ": target at position ", position(m, expected),
                " is ", pt[m], ", outside [0, ", C, ") for C = ", C,
                " classes (and not ignore_index ", ignore, ")");
      ++count;
    }

    // x: (M, C), class dim last
    for (int d = 0; d < logits.dim(); ++d)
      if (d != cdim) perm.push_back(d);
    perm.push_back(cdim);
    x = logits.permute(perm).contiguous().view(Shape{M, C});

    lse = Tensor::empty(Shape{M}, DType::f64);
    std::vector<double> loss(static_cast<size_t>(M));
    SSM_DISPATCH_FLOAT(x.dtype(), kOp, [&] {
      forward_rows<scalar_t>(static_cast<const scalar_t*>(x.raw_data()), pt, M, C, ignore, eps,
                             static_cast<double*>(lse.raw_data()), loss.data());
    });
    if (o.reduction == Reduction::none) {
      out = Tensor::from_vector(loss, expected).to(logits.dtype());
    } else {
      double total = 0;
      for (double v : loss) total += v;  // in order: independent of the thread count
      if (o.reduction == Reduction::mean) total /= double(count);  // 0 / 0 = NaN, as PyTorch
      out = Tensor::scalar(total, logits.dtype());
    }
  }

  if (needs_grad({logits})) {
    Saved sx(x), st(tgt), sl(lse);
    Shape rows_shape, inverse;  // x before flattening to (M, C), and the permutation back
    inverse.resize(perm.size());
    for (int i = 0; i < perm.size(); ++i) {
      rows_shape.push_back(logits.shape()[int(perm[i])]);
      inverse[int(perm[i])] = i;
    }
    Reduction red = o.reduction;
    record(OpId::cross_entropy, {logits}, out,
           [sx, st, sl, rows_shape, inverse, red, count, M, C, ignore, eps](Grads& g) {
             const Tensor& xv = sx.get();
             Tensor w;  // per-row upstream gradient, for reduction none
             double w_all = 0;
             if (red == Reduction::none)
               w = g.out[0].to(DType::f64).contiguous();
             else
               w_all = g.out[0].item<double>() / (red == Reduction::mean ? double(count) : 1.0);
             Tensor dx = Tensor::empty(Shape{M, C}, xv.dtype());
             SSM_DISPATCH_FLOAT(xv.dtype(), "backward", [&] {
               backward_rows<scalar_t>(
                   static_cast<const scalar_t*>(xv.raw_data()),
                   static_cast<const int64_t*>(st.get().raw_data()),
                   static_cast<const double*>(sl.get().raw_data()),
                   w.defined() ? static_cast<const double*>(w.raw_data()) : nullptr, w_all, M, C,
                   ignore, eps, static_cast<scalar_t*>(dx.raw_data()));
             });
             g.in[0] = dx.view(rows_shape).permute(inverse);
           });
  }
  return out;
}

}  // namespace ssm
