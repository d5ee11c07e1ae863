// Reductions, each defined once over its kernel tables (checks, the one autograd record and the
// backward beside it), the CPU kernels and the ops' test-table entries.
//
// sum and mean use core's sum_kernel on either device. On the CPU the others bring the reduced
// dims to the end (a copy only when the layout needs one) and reduce each row of the resulting
// (A, R) matrix, A = kept elements, R = reduced elements. Rows longer than kBlock are cut into
// fixed blocks whose partial states are combined in order, so results never depend on the thread
// count. The CUDA table (ops/cuda/reduce.cpp) hands x to core's reduction engine
// (core/cuda/reduce.h) as a strided view, no copy; its backward kernels are in ops/cuda/reduce.cu.
#include "ops/reduce.h"

#include <bit>
#include <cmath>
#include <limits>
#include <sstream>
#include <type_traits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/reduce_to.h"
#include "ops/dispatch.h"
#include "ops/elementwise_kernel.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

constexpr int64_t kBlock = 4096;

void check_input(const Tensor& x, const char* op) {
  check_defined(x, op, "input");
  SSM_CHECK(!is_complex(x.dtype()), op, ": complex tensors use the real-pair convention; call "
                                        "view_as_real() first (got ", describe(x), ")");
}

void check_floating(const Tensor& x, const char* op) {
  SSM_CHECK(is_floating(x.dtype()), op, ": expects a floating tensor, got ", describe(x));
}

std::string dims_str(const std::vector<int64_t>& dims) {
  std::ostringstream os;
  os << '[';
  for (size_t i = 0; i < dims.size(); ++i) os << (i ? ", " : "") << dims[i];
  return os.str() + "]";
}

ReducePlan make_plan(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                     const char* op) {
  check_input(x, op);
  ReducePlan p;
  int nd = x.dim();
  if (dims.empty()) {
    p.mask = (1u << nd) - 1u;  // nd <= kMaxDims
  } else {
    for (int64_t d : dims) {
      int w = wrap_dim(d, nd, op);
      if (nd == 0) continue;
      SSM_CHECK(!(p.mask >> w & 1u), op, ": dim ", d, " appears more than once in dims ",
                dims_str(dims), " for ", describe(x));
      p.mask |= 1u << w;
    }
  }
  p.keep_shape = x.shape();
  for (int d = 0; d < nd; ++d) {
    bool red = p.mask >> d & 1u;
    (red ? p.R : p.A) *= x.shape()[d];
    if (red) p.keep_shape[d] = 1;
    if (!red || keepdim) p.out_shape.push_back(p.keep_shape[d]);
    if (!red) p.perm.push_back(d);
  }
  for (int d = 0; d < nd; ++d)
    if (p.mask >> d & 1u) p.perm.push_back(d);
  return p;
}

// ---- CPU kernels ----------------------------------------------------------------------------

// x as a contiguous (A, R) matrix: a view when the layout allows, else a copy.
Tensor rows_of(const Tensor& x, const ReducePlan& p) {
  NoGradGuard ng;
  return x.permute(p.perm).contiguous();
}

template <class A>
bool is_nan(A v) {
  if constexpr (std::is_floating_point_v<A>)
    return v != v;
  else
    return false;
}

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_item, 1));
}

// For every row a of an (A, R) problem: finish(a, state), the state built by block(a, r0, r1)
// over fixed blocks of the row and folded left to right with combine(acc, next).
template <class State, class Block, class Combine, class Finish>
void reduce_rows(int64_t A, int64_t R, const Block& block, const Combine& combine,
                 const Finish& finish) {
  int64_t nb = std::max<int64_t>(1, (R + kBlock - 1) / kBlock);
  if (nb == 1) {
    parallel_for(0, A, grain_for(R), [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) finish(a, block(a, int64_t(0), R));
    });
    return;
  }
  std::vector<State> part(size_t(A * nb));
  parallel_for(0, A * nb, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      int64_t a = b / nb, r0 = (b % nb) * kBlock;
      part[size_t(b)] = block(a, r0, std::min(R, r0 + kBlock));
    }
  });
  parallel_for(0, A, grain_for(nb), [&](int64_t a0, int64_t a1) {
    for (int64_t a = a0; a < a1; ++a) {
      State s = part[size_t(a * nb)];
      for (int64_t k = 1; k < nb; ++k) combine(s, part[size_t(a * nb + k)]);
      finish(a, s);
    }
  });
}

// -- max / min / argmax / argmin

template <class A, bool Max>
bool better(A v, A best) {
  if (is_nan(v)) return !is_nan(best);
  return Max ? v > best : v < best;
}

// Values (may be null) and indices within each row of the first extreme element.
template <class T, bool Max>
void extreme_rows(const T* x, int64_t A, int64_t R, T* val, int64_t* idx) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  struct State {
    Acc v;
    int64_t i;
  };
  reduce_rows<State>(
      A, R,
      [&](int64_t a, int64_t r0, int64_t r1) {
        const T* row = x + a * R;
        State s{S::load(row[r0]), r0};
        for (int64_t r = r0 + 1; r < r1; ++r) {
          Acc v = S::load(row[r]);
          if (better<Acc, Max>(v, s.v)) s = {v, r};
        }
        return s;
      },
      [](State& s, const State& n) {
        if (better<Acc, Max>(n.v, s.v)) s = n;  // ties keep the earlier block
      },
      [&](int64_t a, const State& s) {
        if (val) val[a] = S::store(s.v);
        idx[a] = s.i;
      });
}

void cpu_extreme(const Tensor& x_in, const ReducePlan& p, bool is_max, const Tensor& values,
                 const Tensor& indices) {
  // bool compares as 0 / 1: reduce its int32 copy and convert back
  bool as_int = x_in.dtype() == DType::b8;
  Tensor x = as_int ? x_in.to(DType::i32) : x_in;
  Tensor vals = values.defined() && as_int ? Tensor::empty(p.out_shape, x.dtype()) : values;
  Tensor rows = rows_of(x, p);
  int64_t* idx = static_cast<int64_t*>(indices.raw_data());
  SSM_DISPATCH_NUMERIC(x.dtype(), is_max ? "max" : "min", [&] {
    const scalar_t* px = static_cast<const scalar_t*>(rows.raw_data());
    scalar_t* pv = vals.defined() ? static_cast<scalar_t*>(vals.raw_data()) : nullptr;
    if (is_max)
      extreme_rows<scalar_t, true>(px, p.A, p.R, pv, idx);
    else
      extreme_rows<scalar_t, false>(px, p.A, p.R, pv, idx);
  });
  if (values.defined() && as_int) Tensor(values).copy_(vals);
}

void cpu_scatter_rows(const Tensor& g, const Tensor& indices, const ReducePlan& p,
                      const Tensor& dx) {
  const Shape& x_shape = dx.shape();
  Shape strides = contiguous_strides(x_shape);
  int nkept = x_shape.size() - std::popcount(p.mask);
  const int64_t* idx = static_cast<const int64_t*>(indices.raw_data());
  SSM_DISPATCH_FLOAT(dx.dtype(), "backward", [&] {
    const scalar_t* pg = static_cast<const scalar_t*>(g.raw_data());
    scalar_t* pd = static_cast<scalar_t*>(dx.raw_data());
    parallel_for(0, p.A, 4096, [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        // unravel a over the kept dims and idx[a] over the reduced dims (both row-major)
        int64_t off = 0, ra = a, rr = idx[a];
        for (int j = x_shape.size() - 1; j >= 0; --j) {
          int d = int(p.perm[j]);
          int64_t& rem = j < nkept ? ra : rr;
          off += (rem % x_shape[d]) * strides[d];
          rem /= x_shape[d];
        }
        pd[off] = pg[a];
      }
    });
  });
}

// -- var

struct Moments {
  double n, mean, m2;  // count, mean, sum of squared deviations from the mean
};

// out[a] = m2 / max(0, n - correction); mean[a] too when `mean` is not null.
template <class T>
void var_rows(const T* x, int64_t A, int64_t R, double correction, T* out,
              acc_t<T>* mean) {
  using S = Scalar<T>;
  reduce_rows<Moments>(
      A, R,
      [&](int64_t a, int64_t r0, int64_t r1) {
        const T* row = x + a * R;
        double s = 0;
        for (int64_t r = r0; r < r1; ++r) s += double(S::load(row[r]));
        double n = double(r1 - r0), m = s / n, m2 = 0;
        for (int64_t r = r0; r < r1; ++r) {
          double d = double(S::load(row[r])) - m;
          m2 += d * d;
        }
        return Moments{n, m, m2};
      },
      [](Moments& s, const Moments& b) {  // Chan et al.'s pairwise update
        double n = s.n + b.n, delta = b.mean - s.mean;
        s.m2 += b.m2 + delta * delta * s.n * b.n / n;
        s.mean += delta * b.n / n;
        s.n = n;
      },
      [&](int64_t a, const Moments& s) {
        out[a] = S::store(acc_t<T>(s.m2 / std::max(0.0, s.n - correction)));
        if (mean) mean[a] = acc_t<T>(s.mean);
      });
}

void cpu_var(const Tensor& x, const ReducePlan& p, double correction, const Tensor& out,
             const Tensor& mean) {
  Tensor rows = rows_of(x, p);
  SSM_DISPATCH_FLOAT(x.dtype(), "var", [&] {
    using Acc = acc_t<scalar_t>;
    var_rows<scalar_t>(static_cast<const scalar_t*>(rows.raw_data()), p.A, p.R, correction,
                       static_cast<scalar_t*>(out.raw_data()),
                       mean.defined() ? static_cast<Acc*>(mean.raw_data()) : nullptr);
  });
}

// -- logsumexp

// sum over a block of exp(x - shift); shift = the block max when finite, else 0 (so that -inf and
// +inf rows give -inf and +inf instead of NaN).
struct ExpSum {
  double shift, s;
};

template <class T>
void logsumexp_rows(const T* x, int64_t A, int64_t R, T* out, acc_t<T>* lse) {
  using S = Scalar<T>;
  reduce_rows<ExpSum>(
      A, R,
      [&](int64_t a, int64_t r0, int64_t r1) {
        const T* row = x + a * R;
        double m = -std::numeric_limits<double>::infinity();
        for (int64_t r = r0; r < r1; ++r) m = std::max(m, double(S::load(row[r])));
        double shift = std::isfinite(m) ? m : 0.0, s = 0;
        for (int64_t r = r0; r < r1; ++r) s += std::exp(double(S::load(row[r])) - shift);
        return ExpSum{shift, s};
      },
      [](ExpSum& acc, const ExpSum& b) {
        if (b.s == 0) return;  // an all -inf block adds nothing
        if (acc.s == 0) {
          acc = b;
          return;
        }
        double shift = std::max(acc.shift, b.shift);
        acc.s = acc.s * std::exp(acc.shift - shift) + b.s * std::exp(b.shift - shift);
        acc.shift = shift;
      },
      [&](int64_t a, const ExpSum& e) {
        double v = e.shift + std::log(e.s);
        out[a] = S::store(acc_t<T>(v));
        if (lse) lse[a] = acc_t<T>(v);
      });
}

void cpu_logsumexp(const Tensor& x, const ReducePlan& p, const Tensor& out, const Tensor& lse) {
  Tensor rows = rows_of(x, p);
  SSM_DISPATCH_FLOAT(x.dtype(), "logsumexp", [&] {
    using Acc = acc_t<scalar_t>;
    logsumexp_rows<scalar_t>(static_cast<const scalar_t*>(rows.raw_data()), p.A, p.R,
                             static_cast<scalar_t*>(out.raw_data()),
                             lse.defined() ? static_cast<Acc*>(lse.raw_data()) : nullptr);
  });
}

// -- backward of var and logsumexp, and mean's division

// dx = f(x, s, g) elementwise, with s and g (both keep-shaped) broadcast over the reduced dims.
template <class F>
void broadcast_backward(const Tensor& x, const Tensor& s, const Tensor& g, const Tensor& dx,
                        const F& f) {
  SSM_DISPATCH_FLOAT(x.dtype(), "backward", [&] {
    using Acc = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, scalar_t, Acc, scalar_t>(
        dx, [&f](Acc xv, Acc sv, Acc gv) { return f(xv, sv, gv); }, {x, s, g});
  });
}

void cpu_var_backward(const Tensor& x, const Tensor& mean, const Tensor& g, double scale,
                      const Tensor& dx) {
  broadcast_backward(x, mean, g, dx, [scale](auto xv, auto m, auto gv) {
    using Acc = decltype(xv);
    return Acc(scale) * (xv - m) * gv;
  });
}

void cpu_logsumexp_backward(const Tensor& x, const Tensor& lse, const Tensor& g,
                            const Tensor& dx) {
  broadcast_backward(x, lse, g, dx,
                     [](auto xv, auto l, auto gv) { return gv * std::exp(xv - l); });
}

void cpu_divide(const Tensor& t, double n, const Tensor& r) {
  SSM_DISPATCH_FLOAT(t.dtype(), "mean", [&] {
    using Acc = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, scalar_t>(r, [n](Acc v) { return v / Acc(n); }, {t});
  });
}

const ReduceKernels kCpuKernels = {real_dtypes, cpu_extreme, cpu_scatter_rows, cpu_var,
                                   cpu_logsumexp, cpu_var_backward, cpu_logsumexp_backward,
                                   cpu_divide};
SSM_REGISTER_KERNELS(ReduceKernels, cpu, kCpuKernels);

// ---- shared by the ops ----------------------------------------------------------------------

struct Extreme {
  Tensor values;   // out_shape, x's dtype
  Tensor indices;  // out_shape, int64: position in the row-major order of the reduced dims
};

Extreme extreme_kernel(const ReduceKernels& k, const Tensor& x, const ReducePlan& p, bool is_max,
                       bool want_values, const char* op) {
  SSM_CHECK(p.R > 0, op, ": cannot reduce over an empty set of elements (", describe(x),
            "); the result would have no value");
  Extreme e;
  e.indices = Tensor::empty(p.out_shape, DType::i64, x.device());
  if (want_values) e.values = Tensor::empty(p.out_shape, x.dtype(), x.device());
  k.extreme(x, p, is_max, e.values, e.indices);
  return e;
}

// dx: zeros of x's shape with g[a] written at the element indices[a] picked in row a.
Tensor scatter_to_rows(const ReduceKernels& k, const Tensor& g_in, const Tensor& indices,
                       const Shape& x_shape, DType dtype, const ReducePlan& p) {
  Tensor dx = Tensor::zeros(x_shape, dtype, g_in.device());
  Tensor g = (g_in.dtype() == dtype ? g_in : g_in.to(dtype)).contiguous();
  k.scatter_rows(g, indices, p, dx);
  return dx;
}

Tensor extreme(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
  OpId op = is_max ? OpId::max : OpId::min;
  ReducePlan p = make_plan(x, dims, keepdim, op_name(op));
  const ReduceKernels& k = kernels<ReduceKernels>(op_name(op), x);
  Extreme e = extreme_kernel(k, x, p, is_max, true, op_name(op));
  // dx = g at the first extreme element of each reduced set, 0 elsewhere.
  if (needs_grad({x})) {
    Tensor idx = e.indices;
    Shape xs = x.shape();
    DType dt = x.dtype();
    record(op, {x}, e.values, [idx, xs, dt, p, &k](Grads& g) {
      g.in[0] = scatter_to_rows(k, g.out[0], idx, xs, dt, p);
    });
  }
  return e.values;
}

Tensor arg_extreme(const Tensor& x, std::vector<int64_t> dims, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  ReducePlan p = make_plan(x, dims, keepdim, op);
  const ReduceKernels& k = kernels<ReduceKernels>(op, x);
  return extreme_kernel(k, x, p, is_max, false, op).indices;
}

// The output gradient g in x's dtype, reshaped to keep_shape (the reduced dims as size 1).
Tensor keep_shaped(const Tensor& g, const Tensor& x, const Shape& keep_shape) {
  return (g.dtype() == x.dtype() ? g : g.to(x.dtype())).reshape(keep_shape);
}

}  // namespace

// ---- sum / mean -------------------------------------------------------------------------------

// dx = g expanded over the reduced dims.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "sum");
  Tensor out = sum_kernel(x, p.mask, keepdim);
  if (needs_grad({x})) {
    Shape keep = p.keep_shape, xs = x.shape();
    record(OpId::sum, {x}, out,
           [keep, xs](Grads& g) { g.in[0] = g.out[0].reshape(keep).expand(xs); });
  }
  return out;
}

// dx = g / n expanded over the reduced dims.
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "mean");
  check_floating(x, "mean");
  const ReduceKernels& k = kernels<ReduceKernels>("mean", x);
  Tensor out = sum_kernel(x, p.mask, keepdim);
  double n = double(p.R);
  auto divide = [n, &k](const Tensor& t) {  // t / n, fresh tensor, in the compute type
    Tensor r = Tensor::empty(t.shape(), t.dtype(), t.device());
    k.divide(t, n, r);
    return r;
  };
  out = divide(out);
  if (needs_grad({x})) {
    Shape keep = p.keep_shape, xs = x.shape();
    DType dt = x.dtype();
    record(OpId::mean, {x}, out, [keep, xs, dt, divide](Grads& g) {
      Tensor gk = g.out[0].dtype() == dt ? g.out[0] : g.out[0].to(dt);
      g.in[0] = divide(gk.reshape(keep)).expand(xs);
    });
  }
  return out;
}

// ---- max / min --------------------------------------------------------------------------------

Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, true);
}
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return extreme(x, dims, keepdim, false);
}

Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(x, {dim}, keepdim, true);
}
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim) {
  return arg_extreme(x, {dim}, keepdim, false);
}
Tensor argmax(const Tensor& x) { return arg_extreme(x, {}, false, true); }
Tensor argmin(const Tensor& x) { return arg_extreme(x, {}, false, false); }

// ---- var --------------------------------------------------------------------------------------

// dx = 2 (x - mean) g / (n - correction); the mean is kept from the forward pass in the compute
// type (float32 for bf16/f16) so that x - mean keeps its precision.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, double correction) {
  ReducePlan p = make_plan(x, dims, keepdim, "var");
  check_floating(x, "var");
  SSM_CHECK(std::isfinite(correction), "var: correction must be finite, got ", correction);
  const ReduceKernels& k = kernels<ReduceKernels>("var", x);
  bool grad = needs_grad({x});
  Tensor out = Tensor::empty(p.out_shape, x.dtype(), x.device());
  Tensor mean_k = grad ? Tensor::empty(p.keep_shape, compute_dtype(x.dtype()), x.device()) : Tensor();
  k.var(x, p, correction, out, mean_k);
  if (grad) {
    Saved sx(x), sm(mean_k);
    Shape keep = p.keep_shape;
    double scale = 2.0 / (double(p.R) - correction);
    record(OpId::var, {x}, out, [sx, sm, keep, scale, &k](Grads& g) {
      const Tensor& xv = sx.get();
      Tensor dx = Tensor::empty(xv.shape(), xv.dtype(), xv.device());
      k.var_backward(xv, sm.get(), keep_shaped(g.out[0], xv, keep), scale, dx);
      g.in[0] = dx;
    });
  }
  return out;
}

// ---- logsumexp --------------------------------------------------------------------------------

// dx = g exp(x - logsumexp(x)) = g softmax(x); the result is kept in the compute type for this.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  ReducePlan p = make_plan(x, dims, keepdim, "logsumexp");
  check_floating(x, "logsumexp");
  const ReduceKernels& k = kernels<ReduceKernels>("logsumexp", x);
  bool grad = needs_grad({x});
  Tensor out = Tensor::empty(p.out_shape, x.dtype(), x.device());
  Tensor lse = grad ? Tensor::empty(p.keep_shape, compute_dtype(x.dtype()), x.device()) : Tensor();
  k.logsumexp(x, p, out, lse);
  if (grad) {
    Saved sx(x), sl(lse);
    Shape keep = p.keep_shape;
    record(OpId::logsumexp, {x}, out, [sx, sl, keep, &k](Grads& g) {
      const Tensor& xv = sx.get();
      Tensor dx = Tensor::empty(xv.shape(), xv.dtype(), xv.device());
      k.logsumexp_backward(xv, sl.get(), keep_shaped(g.out[0], xv, keep), dx);
      g.in[0] = dx;
    });
  }
  return out;
}

// ---- whole-tensor overloads -------------------------------------------------------------------

Tensor sum(const Tensor& x) { return sum(x, {}, false); }
Tensor mean(const Tensor& x) { return mean(x, {}, false); }
Tensor max(const Tensor& x) { return max(x, {}, false); }
Tensor min(const Tensor& x) { return min(x, {}, false); }
Tensor var(const Tensor& x) { return var(x, {}, false, 1.0); }

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/reduce.py) ----------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

std::vector<int64_t> dims_arg(const json& a) { return a.at("dims").get<std::vector<int64_t>>(); }

json args(std::vector<int64_t> dims, bool keepdim) {
  return {{"dims", dims}, {"keepdim", keepdim}};
}

// One dim, all dims, negative dim with keepdim, non-adjacent dims, non-contiguous input, a
// size-1 reduced dim and a 0-dim input. Normal values have no ties (max/min stay smooth).
std::vector<Sample> reduce_samples(Generator& g) {
  return {
      {"one dim", {randn(g, {3, 4})}, args({1}, false)},
      {"all dims", {randn(g, {3, 4})}, args({}, false)},
      {"negative dim, keepdim", {randn(g, {2, 3, 5})}, args({-1}, true)},
      {"non-adjacent dims", {randn(g, {2, 3, 4})}, args({0, 2}, false)},
      {"leading dim, keepdim", {randn(g, {4, 5})}, args({0}, true)},
      {"non-contiguous", {noncontig(randn(g, {4, 3}))}, args({0}, false)},
      {"non-contiguous, last dim", {noncontig(randn(g, {3, 5}))}, args({-1}, true)},
      {"size-1 dim", {randn(g, {3, 1, 4})}, args({1}, false)},
      {"0-dim", {randn(g, {})}, args({}, false)},
  };
}

#define REDUCE(NAME)                                                                        \
  SSM_OP_INFO({.name = #NAME,                                                               \
               .nodes = {OpId::NAME},                                                       \
               .run = [](const Tensors& in, const json& a) {                                \
                 return Tensors{NAME(in[0], dims_arg(a), a.at("keepdim").get<bool>())};     \
               },                                                                           \
               .samples = reduce_samples})

REDUCE(sum);
REDUCE(mean);
REDUCE(max);
REDUCE(min);
REDUCE(logsumexp);

SSM_OP_INFO({.name = "var",
             .nodes = {OpId::var},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{var(in[0], dims_arg(a), a.at("keepdim").get<bool>(),
                                  a.at("correction").get<double>())};
             },
             .samples = [](Generator& g) {
               auto with = [](json a, double c) {
                 a["correction"] = c;
                 return a;
               };
               return std::vector<Sample>{
                   {"unbiased, one dim", {randn(g, {3, 4})}, with(args({1}, false), 1.0)},
                   {"population, all dims", {randn(g, {3, 4})}, with(args({}, false), 0.0)},
                   {"non-adjacent dims, keepdim", {randn(g, {2, 3, 4})}, with(args({0, -1}, true), 1.0)},
                   {"non-contiguous", {noncontig(randn(g, {4, 3}))}, with(args({0}, false), 1.0)},
                   {"correction 2", {randn(g, {2, 6})}, with(args({1}, true), 2.0)},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
