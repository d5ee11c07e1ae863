// cross_entropy: fused log-softmax + negative log-likelihood (+ label smoothing), defined once
// over its kernel tables (checks, the one autograd record); the CPU kernels and the op's
// test-table entry.
//
// The CPU kernels bring the logits to (M, C) rows, M = N * d1 * ..., with the class dim last (a
// view for (N, C) contiguous logits, one copy otherwise); the CUDA table
// (ops/cuda/cross_entropy.cpp) reads them in place with their strides. Forward keeps, per row,
// logsumexp (float64) and nothing else; backward recomputes softmax from the logits.
#include "ops/cross_entropy.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

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


// ---- CPU kernels ----------------------------------------------------------------------------

// The logits' dims with the class dim moved last.
Shape rows_perm(int ndim, int cdim) {
  Shape perm;
  for (int d = 0; d < ndim; ++d)
    if (d != cdim) perm.push_back(d);
  perm.push_back(cdim);
  return perm;
}

Tensor cpu_forward(const CrossEntropyArgs& a, const Tensor& logits, const Tensor& target,
                   CrossEntropyState& state, int64_t& bad, int64_t& bad_value) {
  NoGradGuard ng;  // the kernels build no graph; the op records its own node
  const int64_t M = a.M, C = a.C, ignore = a.options.ignore_index;
  const double eps = a.options.label_smoothing;
  Tensor tgt = target.to(DType::i64).contiguous();
  const int64_t* pt = static_cast<const int64_t*>(tgt.raw_data());
  int64_t count = 0;
  for (int64_t m = 0; m < M; ++m) {
    if (pt[m] == ignore) continue;
    if (pt[m] < 0 || pt[m] >= C) {
      bad = m;
      bad_value = pt[m];
      return Tensor();
    }
    ++count;
  }

  // x: (M, C), class dim last
  Tensor x = logits.permute(rows_perm(logits.dim(), a.cdim)).contiguous().view(Shape{M, C});
  Tensor lse = Tensor::empty(Shape{M}, DType::f64);
  std::vector<double> loss(static_cast<size_t>(M));
  SSM_DISPATCH_FLOAT(x.dtype(), kOp, [&] {
    forward_rows<scalar_t>(static_cast<const scalar_t*>(x.raw_data()), pt, M, C, ignore, eps,
                           static_cast<double*>(lse.raw_data()), loss.data());
  });
  Tensor out;
  if (a.options.reduction == Reduction::none) {
    out = Tensor::from_vector(loss, target.shape()).to(logits.dtype());
  } else {
    double total = 0;
    for (double v : loss) total += v;  // in order: independent of the thread count
    if (a.options.reduction == Reduction::mean) total /= double(count);  // 0 / 0 = NaN, as PyTorch
    out = Tensor::scalar(total, logits.dtype());
  }
  state = {x, tgt, lse, Tensor::from_vector(std::vector<int64_t>{count}, Shape{})};
  return out;
}

Tensor cpu_backward(const CrossEntropyArgs& a, const CrossEntropyState& state, const Tensor& gout) {
  const Tensor& xv = state.logits;
  const int64_t M = a.M, C = a.C;
  const Reduction red = a.options.reduction;
  Tensor w;  // per-row upstream gradient, for reduction none
  double w_all = 0;
  if (red == Reduction::none)
    w = gout.to(DType::f64).contiguous();
  else
    w_all = gout.item<double>() /
            (red == Reduction::mean ? double(state.count.item<int64_t>()) : 1.0);
  Tensor dx = Tensor::empty(Shape{M, C}, xv.dtype());
  SSM_DISPATCH_FLOAT(xv.dtype(), "backward", [&] {
    backward_rows<scalar_t>(
        static_cast<const scalar_t*>(xv.raw_data()),
        static_cast<const int64_t*>(state.target.raw_data()),
        static_cast<const double*>(state.lse.raw_data()),
        w.defined() ? static_cast<const double*>(w.raw_data()) : nullptr, w_all, M, C,
        a.options.ignore_index, a.options.label_smoothing, static_cast<scalar_t*>(dx.raw_data()));
  });
  // back to the logits' layout: x before flattening to (M, C), then the permutation undone
  Shape perm = rows_perm(a.shape.size(), a.cdim), rows_shape, inverse;
  inverse.resize(perm.size());
  for (int i = 0; i < perm.size(); ++i) {
    rows_shape.push_back(a.shape[int(perm[i])]);
    inverse[int(perm[i])] = i;
  }
  return dx.view(rows_shape).permute(inverse);
}

const CrossEntropyKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(CrossEntropyKernels, cpu, kCpuKernels);

}  // namespace

// ---- the op ---------------------------------------------------------------------------------

// Forward and backward as stated in the header. Saved: the logits and the target (in the layout
// of the backend's kernels), the per-row logsumexp and the count of non-ignored positions.
Tensor cross_entropy(const Tensor& logits, const Tensor& target, const CrossEntropyOptions& o) {
  check_defined(logits, kOp, "logits");
  check_defined(target, kOp, "target");
  check_same_device(logits, target, kOp);
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
  const CrossEntropyKernels& k = kernels<CrossEntropyKernels>(kOp, logits);
  CrossEntropyArgs a{logits.shape(), cdim, M, C, o};
  CrossEntropyState state;
  int64_t bad = -1, bad_value = 0;
  Tensor out = k.forward(a, logits, target, state, bad, bad_value);
  SSM_CHECK(bad < 0, kOp, ": target at position ", position(bad, expected), " is ", bad_value,
            ", outside [0, ", C, ") for C = ", C, " classes (and not ignore_index ",
            o.ignore_index, ")");
  if (needs_grad({logits})) {
    Saved sx(state.logits), st(state.target);
    Tensor lse = state.lse, count = state.count;
    record(OpId::cross_entropy, {logits}, out, [a, sx, st, lse, count, &k](Grads& g) {
      g.in[0] = k.backward(a, CrossEntropyState{sx.get(), st.get(), lse, count}, g.out[0]);
    });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/cross_entropy.py) ----------------
// The target is an integer input: only the logits are gradient-checked.

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

Reduction reduction_arg(const std::string& s) {
  if (s == "none") return Reduction::none;
  if (s == "sum") return Reduction::sum;
  return Reduction::mean;
}

json args(const char* reduction, int64_t ignore_index = -100, double label_smoothing = 0.0) {
  return {{"reduction", reduction}, {"ignore_index", ignore_index},
          {"label_smoothing", label_smoothing}};
}

Tensor targets(std::vector<int64_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

SSM_OP_INFO({.name = "cross_entropy",
             .nodes = {OpId::cross_entropy},
             .run = [](const Tensors& in, const json& a) {
               CrossEntropyOptions o;
               o.ignore_index = a.at("ignore_index").get<int64_t>();
               o.label_smoothing = a.at("label_smoothing").get<double>();
               o.reduction = reduction_arg(a.at("reduction").get<std::string>());
               return Tensors{cross_entropy(in[0], in[1], o)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"(N, C) mean", {randn(g, {5, 4}), targets({3, 0, 1, 3, 2}, {5})}, args("mean")},
                   {"ignore_index hits", {randn(g, {6, 3}), targets({2, -100, 0, 1, -100, 1}, {6})},
                    args("mean")},
                   {"ignore_index inside [0, C)", {randn(g, {5, 4}), targets({1, 0, 1, 3, 2}, {5})},
                    args("mean", 1)},
                   {"label smoothing", {randn(g, {4, 5}), targets({4, 0, -100, 2}, {4})},
                    args("mean", -100, 0.2)},
                   {"reduction none", {randn(g, {5, 4}), targets({0, -100, 3, 1, 2}, {5})},
                    args("none")},
                   {"reduction sum, smoothing", {randn(g, {5, 4}), targets({0, 2, 3, 1, -100}, {5})},
                    args("sum", -100, 0.1)},
                   {"(N, C, L) spatial", {randn(g, {2, 4, 3}), targets({0, 3, 1, 2, -100, 3}, {2, 3})},
                    args("mean", -100, 0.1)},
                   {"(N, C, L) none", {randn(g, {2, 3, 4}), targets({0, 2, 1, 2, 1, 0, 0, 2}, {2, 4})},
                    args("none")},
                   {"non-contiguous logits", {noncontig(randn(g, {5, 4})), targets({1, 3, 0, 0, 2}, {5})},
                    args("mean")},
                   {"unbatched (C)", {randn(g, {6}), targets({4}, {})}, args("mean")},
                   {"int32 target", {randn(g, {3, 4}), targets({2, 0, 3}, {3}).to(DType::i32)},
                    args("sum")},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
