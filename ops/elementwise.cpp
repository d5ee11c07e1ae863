// Elementwise ops: forward kernels, and backward written beside each as dx = g * f'(...).
// CUDA tensors run the same functors through the CUDA elementwise engine (ops/cuda/); the
// autograd code here is shared by both devices.
#include "ops/elementwise.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/reduce_to.h"
#include "ops/cuda/elementwise_cuda.h"  // enums and declarations only; calls under SSM_WITH_CUDA
#include "ops/elementwise_kernel.h"
#include "ops/unary_functors.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/tensor_arg.h"
#endif

namespace ssm {

Tensor broadcast_view(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Shape strides;
  strides.resize(shape.size());
  int lead = shape.size() - t.dim();
  for (int i = 0; i < shape.size(); ++i) {
    int j = i - lead;
    SSM_CHECK(j < 0 || t.shape()[j] == shape[i] || t.shape()[j] == 1, "broadcast: shape ",
              t.shape(), " cannot be broadcast to ", shape);
    strides[i] = (j < 0 || t.shape()[j] == 1) ? 0 : t.strides()[j];
  }
  return make_view(t, shape, strides, t.offset());
}

namespace {

void check_cpu(const Tensor& t, const char* op) {
#ifndef SSM_WITH_CUDA
  SSM_CHECK(t.device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(t));
#else
  (void)t;
  (void)op;
#endif
}

// ---- unary ----------------------------------------------------------------------------------

template <class F, cuda::Unary K, bool AllowInt>
Tensor unary_forward(const Tensor& x, const UnaryParams& p, const char* name) {
  check_defined(x, name, "input");
  check_cpu(x, name);
  SSM_CHECK(!is_complex(x.dtype()), name, ": complex tensors use the real-pair convention; call "
                                          "view_as_real() first (got ", describe(x), ")");
  SSM_CHECK(AllowInt || is_floating(x.dtype()), name, ": expects a floating tensor, got ",
            describe(x));
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if constexpr (AllowInt)
    SSM_CHECK(x.dtype() != DType::b8, name, ": expects a numeric tensor, got ", describe(x));
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    cuda::unary_forward(K, p.a, p.b, cuda::dims_of(x.shape()), cuda::arg_of(y), cuda::arg_of(x));
    return y;
  }
#endif
  auto body = [&]<class T>() {
    using A = acc_t<T>;
    elementwise_cpu<T, T>(y, [&p](A v) { return F::template f<A>(v, p); }, {x});
  };
  if constexpr (AllowInt) {
    SSM_DISPATCH_NUMERIC(x.dtype(), name, [&] { body.template operator()<scalar_t>(); });
  } else {
    SSM_DISPATCH_FLOAT(x.dtype(), name, [&] { body.template operator()<scalar_t>(); });
  }
  return y;
}

// dx = g * f'(s), where s is x or y as the functor's kUsesOutput says.
template <class F, cuda::Unary K>
Tensor unary_backward(const Tensor& g, const Tensor& s, const UnaryParams& p) {
  Tensor dx = Tensor::empty(s.shape(), s.dtype(), s.device());
#ifdef SSM_WITH_CUDA
  if (s.device().is_cuda()) {
    Tensor gs = g.dtype() == s.dtype() ? g : g.to(s.dtype());
    cuda::unary_backward(K, p.a, p.b, cuda::dims_of(s.shape()), cuda::arg_of(dx), cuda::arg_of(gs),
                         cuda::arg_of(s));
    return dx;
  }
#endif
  SSM_DISPATCH_FLOAT(s.dtype(), "backward", [&] {
    using A = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, scalar_t, scalar_t>(
        dx,
        [&p](A gv, A sv) {
          if constexpr (F::kUsesOutput)
            return gv * F::template df<A>(A(0), sv, p);
          else
            return gv * F::template df<A>(sv, A(0), p);
        },
        {g.dtype() == s.dtype() ? g : g.to(s.dtype()), s});
  });
  return dx;
}

template <class F, cuda::Unary K, bool AllowInt = false>
Tensor unary(const Tensor& x, OpId op, UnaryParams p = {}) {
  Tensor y = unary_forward<F, K, AllowInt>(x, p, op_name(op));
  if (needs_grad({x})) {
    Saved s(F::kUsesOutput ? y : x);
    record(op, {x}, y, [s, p](Grads& g) { g.in[0] = unary_backward<F, K>(g.out[0], s.get(), p); });
  }
  return y;
}

// ---- binary ---------------------------------------------------------------------------------

int category(DType t) {
  if (t == DType::b8) return 0;
  if (is_index(t)) return 1;
  if (is_floating(t)) return 2;
  return 3;
}

// PyTorch's rule in short: a 0-dim operand does not widen a dimensioned operand of the same or a
// higher category.
DType result_type(const Tensor& a, const Tensor& b) {
  if (a.dim() == 0 && b.dim() != 0 && category(a.dtype()) <= category(b.dtype())) return b.dtype();
  if (b.dim() == 0 && a.dim() != 0 && category(b.dtype()) <= category(a.dtype())) return a.dtype();
  return promote_types(a.dtype(), b.dtype());
}

void check_binary(const Tensor& a, const Tensor& b, const char* op) {
  check_defined(a, op, "a");
  check_defined(b, op, "b");
  check_same_device(a, b, op);
  check_cpu(a, op);
  SSM_CHECK(!is_complex(a.dtype()) && !is_complex(b.dtype()), op,
            ": complex tensors use the real-pair convention; call view_as_real() first (got ",
            describe(a), " and ", describe(b), ")");
}

// out = f(a, b) in the compute type of `dt`; a and b are converted to `dt` first when needed.
template <class F>
Tensor binary_kernel(const Tensor& a_in, const Tensor& b_in, DType dt, bool allow_int,
                     const char* op, [[maybe_unused]] cuda::Binary cop, const F& f) {
  SSM_CHECK(allow_int || is_floating(dt), op, ": expects floating tensors, got ", describe(a_in),
            " and ", describe(b_in));
  Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), op);
  Tensor a = a_in.dtype() == dt ? a_in : a_in.to(dt);
  Tensor b = b_in.dtype() == dt ? b_in : b_in.to(dt);
  Tensor out = Tensor::empty(shape, dt, a.device());
#ifdef SSM_WITH_CUDA
  if (out.device().is_cuda()) {
    cuda::binary(cop, cuda::dims_of(shape), cuda::arg_of(out),
                 cuda::arg_of(broadcast_view(a, shape)), cuda::arg_of(broadcast_view(b, shape)));
    return out;
  }
#endif
  SSM_DISPATCH_NUMERIC(dt, op, [&] {
    using A = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, scalar_t, scalar_t>(out, [&f](A x, A y) { return f(x, y); }, {a, b});
  });
  return out;
}

Tensor grad_to(const Tensor& g, const Tensor& input) {
  Tensor r = sum_to(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.to(input.dtype());
}

}  // namespace

Tensor neg(const Tensor& x) { return unary<fn::Neg, cuda::Unary::neg, true>(x, OpId::neg); }
Tensor exp(const Tensor& x) { return unary<fn::Exp, cuda::Unary::exp>(x, OpId::exp); }
Tensor log(const Tensor& x) { return unary<fn::Log, cuda::Unary::log>(x, OpId::log); }
Tensor sqrt(const Tensor& x) { return unary<fn::Sqrt, cuda::Unary::sqrt>(x, OpId::sqrt); }
Tensor rsqrt(const Tensor& x) { return unary<fn::Rsqrt, cuda::Unary::rsqrt>(x, OpId::rsqrt); }
Tensor pow(const Tensor& x, double e) { return unary<fn::Pow, cuda::Unary::pow>(x, OpId::pow, {e, 0}); }
Tensor abs(const Tensor& x) { return unary<fn::Abs, cuda::Unary::abs, true>(x, OpId::abs); }
Tensor tanh(const Tensor& x) { return unary<fn::Tanh, cuda::Unary::tanh>(x, OpId::tanh); }
Tensor sigmoid(const Tensor& x) { return unary<fn::Sigmoid, cuda::Unary::sigmoid>(x, OpId::sigmoid); }
Tensor silu(const Tensor& x) { return unary<fn::Silu, cuda::Unary::silu>(x, OpId::silu); }
Tensor relu(const Tensor& x) { return unary<fn::Relu, cuda::Unary::relu>(x, OpId::relu); }

Tensor gelu(const Tensor& x, GeluApprox approximate) {
  return approximate == GeluApprox::tanh ? unary<fn::GeluTanh, cuda::Unary::gelu_tanh>(x, OpId::gelu)
                                         : unary<fn::Gelu, cuda::Unary::gelu>(x, OpId::gelu);
}

Tensor softplus(const Tensor& x, double beta, double threshold) {
  SSM_CHECK(beta > 0, "softplus: beta must be > 0, got ", beta);
  return unary<fn::Softplus, cuda::Unary::softplus>(x, OpId::softplus, {beta, threshold});
}

Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max) {
  SSM_CHECK(min || max, "clamp: at least one of min and max must be given");
  double lo = min.value_or(-std::numeric_limits<double>::infinity());
  double hi = max.value_or(std::numeric_limits<double>::infinity());
  SSM_CHECK(!(lo > hi), "clamp: min ", lo, " is greater than max ", hi);
  return unary<fn::Clamp, cuda::Unary::clamp>(x, OpId::clamp, {lo, hi});
}

// d(a + b) = (g, g), each summed back over its broadcast dims.
Tensor add(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "add");
  Tensor out = binary_kernel(a, b, result_type(a, b), true, "add", cuda::Binary::add, [](auto x, auto y) { return x + y; });
  if (needs_grad({a, b})) {
    Tensor ra = a.detach(), rb = b.detach();  // shapes and dtypes only
    record(OpId::add, {a, b}, out, [ra, rb](Grads& g) {
      if (g.needs(0)) g.in[0] = grad_to(g.out[0], ra);
      if (g.needs(1)) g.in[1] = grad_to(g.out[0], rb);
    });
  }
  return out;
}

// d(a - b) = (g, -g)
Tensor sub(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "sub");
  Tensor out = binary_kernel(a, b, result_type(a, b), true, "sub", cuda::Binary::sub, [](auto x, auto y) { return x - y; });
  if (needs_grad({a, b})) {
    Tensor ra = a.detach(), rb = b.detach();
    record(OpId::sub, {a, b}, out, [ra, rb](Grads& g) {
      if (g.needs(0)) g.in[0] = grad_to(g.out[0], ra);
      if (g.needs(1)) g.in[1] = grad_to(neg(g.out[0]), rb);
    });
  }
  return out;
}

// d(a b) = (g b, g a)
Tensor mul(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "mul");
  Tensor out = binary_kernel(a, b, result_type(a, b), true, "mul", cuda::Binary::mul, [](auto x, auto y) { return x * y; });
  if (needs_grad({a, b})) {
    Saved sa(a), sb(b);
    record(OpId::mul, {a, b}, out, [sa, sb](Grads& g) {
      if (g.needs(0)) g.in[0] = grad_to(mul(g.out[0], sb.get()), sa.get());
      if (g.needs(1)) g.in[1] = grad_to(mul(g.out[0], sa.get()), sb.get());
    });
  }
  return out;
}

// d(a / b) = (g / b, -g a / b^2)
Tensor div(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "div");
  DType dt = result_type(a, b);
  if (!is_floating(dt)) dt = DType::f32;
  Tensor out = binary_kernel(a, b, dt, false, "div", cuda::Binary::div, [](auto x, auto y) { return x / y; });
  if (needs_grad({a, b})) {
    Saved sa(a), sb(b);
    record(OpId::div, {a, b}, out, [sa, sb](Grads& g) {
      const Tensor& bv = sb.get();
      if (g.needs(0)) g.in[0] = grad_to(div(g.out[0], bv), sa.get());
      if (g.needs(1)) g.in[1] = grad_to(neg(div(mul(g.out[0], sa.get()), mul(bv, bv))), bv);
    });
  }
  return out;
}

// d(a^b) = (g b a^(b-1), g a^b log a), the second taken as 0 where a == 0 (as PyTorch).
Tensor pow(const Tensor& a, const Tensor& b) {
  check_binary(a, b, "pow");
  Tensor out = binary_kernel(a, b, result_type(a, b), false, "pow", cuda::Binary::pow,
                             [](auto x, auto y) { return std::pow(x, y); });
  if (needs_grad({a, b})) {
    Saved sa(a), sb(b), so(out);
    record(OpId::pow_tensor, {a, b}, out, [sa, sb, so](Grads& g) {
      const Tensor &av = sa.get(), &bv = sb.get();
      DType dt = so.get().dtype();
      if (g.needs(0))
        g.in[0] = grad_to(binary_kernel(g.out[0], binary_kernel(av, bv, dt, false, "pow",
                                                                cuda::Binary::pow_dbase,
                                                                [](auto x, auto y) {
                                                                  return y * std::pow(x, y - 1);
                                                                }),
                                        dt, false, "pow", cuda::Binary::mul,
                                        [](auto p, auto q) { return p * q; }),
                          av);
      if (g.needs(1)) {
        Tensor dlog = binary_kernel(so.get(), av, dt, false, "pow", cuda::Binary::pow_dexp,
                                   [](auto o, auto x) {
          return x == decltype(x)(0) ? decltype(x)(0) : o * std::log(x);
        });
        g.in[1] = grad_to(mul(g.out[0], dlog), bv);
      }
    });
  }
  return out;
}

// d where(c, a, b) = (g where c, g where !c)
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  check_defined(cond, "where", "cond");
  check_binary(a, b, "where");
  check_same_device(cond, a, "where");
  SSM_CHECK(cond.dtype() == DType::b8, "where: cond must be a bool tensor, got ", describe(cond));
  DType dt = result_type(a, b);
  Shape shape = broadcast_shapes(broadcast_shapes(cond.shape(), a.shape(), "where"), b.shape(),
                                 "where");
  Tensor ac = a.dtype() == dt ? a : a.to(dt), bc = b.dtype() == dt ? b : b.to(dt);
  Tensor out = Tensor::empty(shape, dt, a.device());
#ifdef SSM_WITH_CUDA
  if (out.device().is_cuda()) {
    cuda::where(cuda::dims_of(shape), cuda::arg_of(out), cuda::arg_of(broadcast_view(cond, shape)),
                cuda::arg_of(broadcast_view(ac, shape)), cuda::arg_of(broadcast_view(bc, shape)));
  } else
#endif
  SSM_DISPATCH_NUMERIC(dt, "where", [&] {
    using A = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, bool, scalar_t, scalar_t>(
        out, [](bool c, A x, A y) { return c ? x : y; }, {cond, ac, bc});
  });
  if (needs_grad({a, b})) {
    Saved sc(cond);
    Tensor ra = a.detach(), rb = b.detach();
    record(OpId::where, {a, b}, out, [sc, ra, rb](Grads& g) {
      Tensor zero = Tensor::zeros(Shape{}, g.out[0].dtype(), g.out[0].device());
      if (g.needs(0)) g.in[0] = grad_to(where(sc.get(), g.out[0], zero), ra);
      if (g.needs(1)) g.in[1] = grad_to(where(sc.get(), zero, g.out[0]), rb);
    });
  }
  return out;
}

Tensor scalar_like(double v, const Tensor& like) {
  bool integral_value = v == double(int64_t(v));
  DType dt = is_floating(like.dtype()) || (is_index(like.dtype()) && integral_value) ? like.dtype()
                                                                                    : DType::f32;
  return Tensor::scalar(v, dt, like.device());
}

Tensor add(const Tensor& a, double b) { return add(a, scalar_like(b, a)); }
Tensor sub(const Tensor& a, double b) { return sub(a, scalar_like(b, a)); }
Tensor mul(const Tensor& a, double b) { return mul(a, scalar_like(b, a)); }
Tensor div(const Tensor& a, double b) { return div(a, scalar_like(b, a)); }

namespace {
template <class F>
Tensor compare(const Tensor& a, const Tensor& b, const char* op, [[maybe_unused]] cuda::Binary cop,
               const F& f) {
  check_binary(a, b, op);
  DType dt = result_type(a, b);
  if (dt == DType::b8) dt = DType::i32;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor ac = a.dtype() == dt ? a : a.to(dt), bc = b.dtype() == dt ? b : b.to(dt);
  Tensor out = Tensor::empty(shape, DType::b8, a.device());
#ifdef SSM_WITH_CUDA
  if (out.device().is_cuda()) {
    cuda::binary(cop, cuda::dims_of(shape), cuda::arg_of(out),
                 cuda::arg_of(broadcast_view(ac, shape)), cuda::arg_of(broadcast_view(bc, shape)));
    return out;
  }
#endif
  SSM_DISPATCH_NUMERIC(dt, op, [&] {
    using A = acc_t<scalar_t>;
    elementwise_cpu<bool, scalar_t, scalar_t>(out, [&f](A x, A y) { return f(x, y); }, {ac, bc});
  });
  return out;
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", cuda::Binary::eq, [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", cuda::Binary::ne, [](auto x, auto y) { return x != y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", cuda::Binary::lt, [](auto x, auto y) { return x < y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", cuda::Binary::le, [](auto x, auto y) { return x <= y; }); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", cuda::Binary::gt, [](auto x, auto y) { return x > y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", cuda::Binary::ge, [](auto x, auto y) { return x >= y; }); }

}  // namespace ssm
