// Reductions: forward kernels, and backward written beside each.
//
// sum and mean use core's sum_kernel. The others bring the reduced dims to the end (a copy only
// when the layout needs one) and reduce each row of the resulting (A, R) matrix, A = kept
// elements, R = reduced elements. Rows longer than kBlock are cut into fixed blocks whose partial
// states are combined in order, so results never depend on the thread count.
// CUDA tensors go to core's reduction engine (core/cuda/reduce.h) as strided views, no copy; the
// max/min, var and logsumexp backward kernels are in ops/cuda/reduce.cu.
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
#include "ops/elementwise_kernel.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/tensor_arg.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/cuda/reduce_cuda.h"
#endif

namespace ssm {

namespace {

constexpr int64_t kBlock = 4096;

void check_input(const Tensor& x, const char* op) {
  check_defined(x, op, "input");
#ifndef SSM_WITH_CUDA
  SSM_CHECK(x.device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(x));
#endif
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

// Which dims a reduction covers and the shapes around it.
struct Plan {
  uint32_t mask = 0;  // bit d set: dim d is reduced
  Shape keep_shape;   // x's shape with the reduced dims set to 1
  Shape out_shape;    // keep_shape, reduced dims dropped unless keepdim
  Shape perm;         // kept dims, then reduced dims (each in increasing order)
  int64_t A = 1;      // number of results
  int64_t R = 1;      // elements per result
};

Plan make_plan(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, const char* op) {
  check_input(x, op);
  Plan p;
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

// x as a contiguous (A, R) matrix: a view when the layout allows, else a copy.
Tensor rows_of(const Tensor& x, const Plan& p) {
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

// ---- max / min / argmax / argmin -----------------------------------------------------------

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

struct Extreme {
  Tensor values;   // out_shape, x's dtype
  Tensor indices;  // out_shape, int64: position in the row-major order of the reduced dims
};

Extreme extreme_kernel(const Tensor& x_in, const Plan& p, bool is_max, bool want_values,
                       const char* op) {
  SSM_CHECK(p.R > 0, op, ": cannot reduce over an empty set of elements (", describe(x_in),
            "); the result would have no value");
#ifdef SSM_WITH_CUDA
  if (x_in.device().is_cuda()) {  // strided, any real dtype (bool too) as it is
    Extreme e;
    e.indices = Tensor::empty(p.out_shape, DType::i64, x_in.device());
    if (want_values) e.values = Tensor::empty(p.out_shape, x_in.dtype(), x_in.device());
    cuda::ReduceProblem q = cuda::reduce_problem(x_in, p.mask);
    q.out = want_values ? e.values.raw_data() : nullptr;
    q.aux = e.indices.raw_data();
    cuda::reduce(is_max ? cuda::Reduce::max : cuda::Reduce::min, q);
    return e;
  }
#endif
  // bool compares as 0 / 1: reduce its int32 copy and convert back
  Tensor x = x_in.dtype() == DType::b8 ? x_in.to(DType::i32) : x_in;
  Extreme e;
  e.indices = Tensor::empty(p.out_shape, DType::i64);
  if (want_values) e.values = Tensor::empty(p.out_shape, x.dtype());
  Tensor rows = rows_of(x, p);
  int64_t* idx = static_cast<int64_t*>(e.indices.raw_data());
  SSM_DISPATCH_NUMERIC(x.dtype(), op, [&] {
    const scalar_t* px = static_cast<const scalar_t*>(rows.raw_data());
    scalar_t* pv = want_values ? static_cast<scalar_t*>(e.values.raw_data()) : nullptr;
    if (is_max)
      extreme_rows<scalar_t, true>(px, p.A, p.R, pv, idx);
    else
      extreme_rows<scalar_t, false>(px, p.A, p.R, pv, idx);
  });
  if (want_values && x_in.dtype() == DType::b8) e.values = e.values.to(DType::b8);
  return e;
}

// dx: zeros of x's shape with g[a] written at the element indices[a] picked in row a.
Tensor scatter_to_rows(const Tensor& g_in, const Tensor& indices, const Shape& x_shape,
                       DType dtype, const Plan& p) {
  Tensor dx = Tensor::zeros(x_shape, dtype, g_in.device());
  Tensor g = (g_in.dtype() == dtype ? g_in : g_in.to(dtype)).contiguous();
  Shape strides = contiguous_strides(x_shape);
  int nkept = x_shape.size() - std::popcount(p.mask);
#ifdef SSM_WITH_CUDA
  if (dx.device().is_cuda()) {
    cuda::scatter_rows(cuda::dims_of(x_shape), p.perm.begin(), nkept, p.A, dx.raw_data(),
                       g.raw_data(), static_cast<const int64_t*>(indices.raw_data()), dtype);
    return dx;
  }
#endif
  const int64_t* idx = static_cast<const int64_t*>(indices.raw_data());
  SSM_DISPATCH_FLOAT(dtype, "backward", [&] {
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
  return dx;
}

Tensor extreme(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim, bool is_max) {
  OpId op = is_max ? OpId::max : OpId::min;
  Plan p = make_plan(x, dims, keepdim, op_name(op));
  Extreme e = extreme_kernel(x, p, is_max, true, op_name(op));
  // dx = g at the first extreme element of each reduced set, 0 elsewhere.
  if (needs_grad({x})) {
    Tensor idx = e.indices;
    Shape xs = x.shape();
    DType dt = x.dtype();
    record(op, {x}, e.values, [idx, xs, dt, p](Grads& g) {
      g.in[0] = scatter_to_rows(g.out[0], idx, xs, dt, p);
    });
  }
  return e.values;
}

Tensor arg_extreme(const Tensor& x, std::vector<int64_t> dims, bool keepdim, bool is_max) {
  const char* op = is_max ? "argmax" : "argmin";
  Plan p = make_plan(x, dims, keepdim, op);
  return extreme_kernel(x, p, is_max, false, op).indices;
}

// ---- var --------------------------------------------------------------------------------------

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

// ---- logsumexp --------------------------------------------------------------------------------

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

// dx = f(x, s, g) elementwise, with s and g (both keep-shaped) broadcast over the reduced dims.
template <class F>
Tensor broadcast_backward(const Tensor& x, const Tensor& s, const Tensor& g_in,
                          const Shape& keep_shape, int cuda_kind, double scale, const F& f) {
  Tensor g = (g_in.dtype() == x.dtype() ? g_in : g_in.to(x.dtype())).reshape(keep_shape);
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    cuda::reduce_backward(cuda::ReduceGrad(cuda_kind), scale, cuda::dims_of(x.shape()),
                          cuda::arg_of(dx), cuda::arg_of(x),
                          cuda::arg_of(broadcast_view(s, x.shape())),
                          cuda::arg_of(broadcast_view(g, x.shape())));
    return dx;
  }
#else
  (void)cuda_kind;
  (void)scale;
#endif
  SSM_DISPATCH_FLOAT(x.dtype(), "backward", [&] {
    using Acc = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, scalar_t, Acc, scalar_t>(
        dx, [&f](Acc xv, Acc sv, Acc gv) { return f(xv, sv, gv); }, {x, s, g});
  });
  return dx;
}

}  // namespace

// ---- sum / mean -------------------------------------------------------------------------------

// dx = g expanded over the reduced dims.
Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Plan p = make_plan(x, dims, keepdim, "sum");
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
  Plan p = make_plan(x, dims, keepdim, "mean");
  check_floating(x, "mean");
  Tensor out = sum_kernel(x, p.mask, keepdim);
  double n = double(p.R);
  auto divide = [n](const Tensor& t) {  // t / n, fresh tensor, in the compute type
    Tensor r = Tensor::empty(t.shape(), t.dtype(), t.device());
#ifdef SSM_WITH_CUDA
    if (t.device().is_cuda()) {
      cuda::div_scalar(cuda::dims_of(t.shape()), cuda::arg_of(r), cuda::arg_of(t), n);
      return r;
    }
#endif
    SSM_DISPATCH_FLOAT(t.dtype(), "mean", [&] {
      using Acc = acc_t<scalar_t>;
      elementwise_cpu<scalar_t, scalar_t>(r, [n](Acc v) { return v / Acc(n); }, {t});
    });
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
  Plan p = make_plan(x, dims, keepdim, "var");
  check_floating(x, "var");
  SSM_CHECK(std::isfinite(correction), "var: correction must be finite, got ", correction);
  bool grad = needs_grad({x});
  Tensor out = Tensor::empty(p.out_shape, x.dtype(), x.device());
  Tensor mean_k = grad ? Tensor::empty(p.keep_shape, compute_dtype(x.dtype()), x.device()) : Tensor();
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    cuda::ReduceProblem q = cuda::reduce_problem(x, p.mask);
    q.out = out.raw_data();
    q.aux = grad ? mean_k.raw_data() : nullptr;
    q.correction = correction;
    cuda::reduce(cuda::Reduce::var, q);
  } else
#endif
  {
    Tensor rows = rows_of(x, p);
    SSM_DISPATCH_FLOAT(x.dtype(), "var", [&] {
      using Acc = acc_t<scalar_t>;
      var_rows<scalar_t>(static_cast<const scalar_t*>(rows.raw_data()), p.A, p.R, correction,
                         static_cast<scalar_t*>(out.raw_data()),
                         grad ? static_cast<Acc*>(mean_k.raw_data()) : nullptr);
    });
  }
  if (grad) {
    Saved sx(x), sm(mean_k);
    Shape keep = p.keep_shape;
    double scale = 2.0 / (double(p.R) - correction);
    record(OpId::var, {x}, out, [sx, sm, keep, scale](Grads& g) {
      g.in[0] = broadcast_backward(sx.get(), sm.get(), g.out[0], keep, 0, scale,
                                   [scale](auto xv, auto m, auto gv) {
        using Acc = decltype(xv);
        return Acc(scale) * (xv - m) * gv;
      });
    });
  }
  return out;
}

// ---- logsumexp --------------------------------------------------------------------------------

// dx = g exp(x - logsumexp(x)) = g softmax(x); the result is kept in the compute type for this.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Plan p = make_plan(x, dims, keepdim, "logsumexp");
  check_floating(x, "logsumexp");
  bool grad = needs_grad({x});
  Tensor out = Tensor::empty(p.out_shape, x.dtype(), x.device());
  Tensor lse = grad ? Tensor::empty(p.keep_shape, compute_dtype(x.dtype()), x.device()) : Tensor();
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    cuda::ReduceProblem q = cuda::reduce_problem(x, p.mask);
    q.out = out.raw_data();
    q.aux = grad ? lse.raw_data() : nullptr;
    cuda::reduce(cuda::Reduce::logsumexp, q);
  } else
#endif
  {
    Tensor rows = rows_of(x, p);
    SSM_DISPATCH_FLOAT(x.dtype(), "logsumexp", [&] {
      using Acc = acc_t<scalar_t>;
      logsumexp_rows<scalar_t>(static_cast<const scalar_t*>(rows.raw_data()), p.A, p.R,
                               static_cast<scalar_t*>(out.raw_data()),
                               grad ? static_cast<Acc*>(lse.raw_data()) : nullptr);
    });
  }
  if (grad) {
    Saved sx(x), sl(lse);
    Shape keep = p.keep_shape;
    record(OpId::logsumexp, {x}, out, [sx, sl, keep](Grads& g) {
      g.in[0] = broadcast_backward(sx.get(), sl.get(), g.out[0], keep, 1, 1.0,
                                   [](auto xv, auto l, auto gv) { return gv * std::exp(xv - l); });
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

}  // namespace ssm
