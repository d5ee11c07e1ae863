// Elementwise ops, each defined once over its kernel tables: checks, dtype promotion, the one
// autograd record and the backward written beside it as dx = g * f'(...). The CPU kernels run
// the functors of ops/unary_functors.h (and the lambdas below) through the CPU elementwise engine
// (ops/elementwise_kernel.h); the CUDA table (ops/cuda/elementwise.cpp) runs the same functors
// through the CUDA engine. At the bottom, the ops' test-table entries.
#include "ops/elementwise.h"

#include <cmath>
#include <type_traits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/reduce_to.h"
#include "ops/cuda/elementwise_cuda.h"  // the op enums only (no CUDA code)
#include "ops/dispatch.h"
#include "ops/elementwise_kernel.h"
#include "ops/op_info.h"
#include "ops/unary_functors.h"

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

// ---- CPU kernels ----------------------------------------------------------------------------

// Calls run.operator()<F, AllowInt>() with the functor of `op` (AllowInt: it takes integers).
template <class Run>
void with_functor(cuda::Unary op, const Run& run) {
  using U = cuda::Unary;
  switch (op) {
    case U::neg: return run.template operator()<fn::Neg, true>();
    case U::exp: return run.template operator()<fn::Exp, false>();
    case U::log: return run.template operator()<fn::Log, false>();
    case U::sqrt: return run.template operator()<fn::Sqrt, false>();
    case U::rsqrt: return run.template operator()<fn::Rsqrt, false>();
    case U::pow: return run.template operator()<fn::Pow, false>();
    case U::abs: return run.template operator()<fn::Abs, true>();
    case U::tanh: return run.template operator()<fn::Tanh, false>();
    case U::sigmoid: return run.template operator()<fn::Sigmoid, false>();
    case U::silu: return run.template operator()<fn::Silu, false>();
    case U::gelu: return run.template operator()<fn::Gelu, false>();
    case U::gelu_tanh: return run.template operator()<fn::GeluTanh, false>();
    case U::softplus: return run.template operator()<fn::Softplus, false>();
    case U::relu: return run.template operator()<fn::Relu, false>();
    case U::clamp: return run.template operator()<fn::Clamp, false>();
  }
  SSM_FAIL("unary: unknown op ", int(op));
}

void cpu_unary(cuda::Unary op, const UnaryParams& p, const Tensor& x, const Tensor& y) {
  with_functor(op, [&]<class F, bool AllowInt>() {
    auto body = [&]<class T>() {
      using A = acc_t<T>;
      elementwise_cpu<T, T>(y, [&p](A v) { return F::template f<A>(v, p); }, {x});
    };
    if constexpr (AllowInt) {
      SSM_DISPATCH_NUMERIC(x.dtype(), "unary", [&] { body.template operator()<scalar_t>(); });
    } else {
      SSM_DISPATCH_FLOAT(x.dtype(), "unary", [&] { body.template operator()<scalar_t>(); });
    }
  });
}

void cpu_unary_backward(cuda::Unary op, const UnaryParams& p, const Tensor& g, const Tensor& s,
                        const Tensor& dx) {
  with_functor(op, [&]<class F, bool>() {
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
          {g, s});
    });
  });
}

// out = f(a, b) in the compute type of a's dtype, stored in that dtype or, for a comparison, as
// bool.
template <bool Compare, class F>
void cpu_binary_as(const Tensor& a, const Tensor& b, const Tensor& out, const char* op,
                   const F& f) {
  SSM_DISPATCH_NUMERIC(a.dtype(), op, [&] {
    using A = acc_t<scalar_t>;
    using Out = std::conditional_t<Compare, bool, scalar_t>;
    elementwise_cpu<Out, scalar_t, scalar_t>(out, [&f](A x, A y) { return f(x, y); }, {a, b});
  });
}

void cpu_binary(cuda::Binary op, const Tensor& a, const Tensor& b, const Tensor& out) {
  using B = cuda::Binary;
  auto arith = [&](const char* name, const auto& f) { cpu_binary_as<false>(a, b, out, name, f); };
  auto compare = [&](const char* name, const auto& f) { cpu_binary_as<true>(a, b, out, name, f); };
  switch (op) {
    case B::add: return arith("add", [](auto x, auto y) { return x + y; });
    case B::sub: return arith("sub", [](auto x, auto y) { return x - y; });
    case B::mul: return arith("mul", [](auto x, auto y) { return x * y; });
    case B::div: return arith("div", [](auto x, auto y) { return x / y; });
    case B::pow: return arith("pow", [](auto x, auto y) { return std::pow(x, y); });
    case B::pow_dbase: return arith("pow", [](auto x, auto y) { return y * std::pow(x, y - 1); });
    case B::pow_dexp:
      return arith("pow", [](auto o, auto x) {
        return x == decltype(x)(0) ? decltype(x)(0) : o * std::log(x);
      });
    case B::eq: return compare("eq", [](auto x, auto y) { return x == y; });
    case B::ne: return compare("ne", [](auto x, auto y) { return x != y; });
    case B::lt: return compare("lt", [](auto x, auto y) { return x < y; });
    case B::le: return compare("le", [](auto x, auto y) { return x <= y; });
    case B::gt: return compare("gt", [](auto x, auto y) { return x > y; });
    case B::ge: return compare("ge", [](auto x, auto y) { return x >= y; });
  }
  SSM_FAIL("binary: unknown op ", int(op));
}

void cpu_where(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out) {
  SSM_DISPATCH_NUMERIC(a.dtype(), "where", [&] {
    using A = acc_t<scalar_t>;
    elementwise_cpu<scalar_t, bool, scalar_t, scalar_t>(
        out, [](bool c, A x, A y) { return c ? x : y; }, {cond, a, b});
  });
}

const ElementwiseKernels kCpuKernels = {numeric_dtypes, cpu_unary, cpu_unary_backward,
                                        cpu_binary, cpu_where};
SSM_REGISTER_KERNELS(ElementwiseKernels, cpu, kCpuKernels);

// ---- shared by the ops ----------------------------------------------------------------------

// The kernels of `op` for operand t (in the dtype the kernels will compute in). A dtype they do
// not take is reported as the kernels' own dtype dispatch always has.
const ElementwiseKernels& elementwise_kernels(const char* op, const Tensor& t) {
  SSM_CHECK(numeric_dtypes(t.dtype()), op, ": dtype ", t.dtype(),
            " is not supported (expected a real floating or integer dtype)");
  return kernels<ElementwiseKernels>(op, t);
}

// ---- unary ----------------------------------------------------------------------------------

// y = f(x) with F's functor (K names it to the kernels); backward dx = g * f'(s), s = x or y as
// F::kUsesOutput says.
template <class F, cuda::Unary K, bool AllowInt = false>
Tensor unary(const Tensor& x, OpId op, UnaryParams p = {}) {
  const char* name = op_name(op);
  check_defined(x, name, "input");
  SSM_CHECK(!is_complex(x.dtype()), name, ": complex tensors use the real-pair convention; call "
                                          "view_as_real() first (got ", describe(x), ")");
  SSM_CHECK(AllowInt || is_floating(x.dtype()), name, ": expects a floating tensor, got ",
            describe(x));
  if constexpr (AllowInt)
    SSM_CHECK(x.dtype() != DType::b8, name, ": expects a numeric tensor, got ", describe(x));
  const ElementwiseKernels& k = elementwise_kernels(name, x);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  k.unary(K, p, x, y);
  if (needs_grad({x})) {
    Saved s(F::kUsesOutput ? y : x);
    record(op, {x}, y, [s, p, &k](Grads& g) {
      const Tensor& sv = s.get();
      Tensor dx = Tensor::empty(sv.shape(), sv.dtype(), sv.device());
      k.unary_backward(K, p, g.out[0].dtype() == sv.dtype() ? g.out[0] : g.out[0].to(sv.dtype()),
                       sv, dx);
      g.in[0] = dx;
    });
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
  SSM_CHECK(!is_complex(a.dtype()) && !is_complex(b.dtype()), op,
            ": complex tensors use the real-pair convention; call view_as_real() first (got ",
            describe(a), " and ", describe(b), ")");
}

// out = f(a, b) in the compute type of `dt` (f named by `fop`); a and b are converted to `dt`
// first when needed.
Tensor binary_kernel(const Tensor& a_in, const Tensor& b_in, DType dt, bool allow_int,
                     const char* op, cuda::Binary fop) {
  SSM_CHECK(allow_int || is_floating(dt), op, ": expects floating tensors, got ", describe(a_in),
            " and ", describe(b_in));
  Shape shape = broadcast_shapes(a_in.shape(), b_in.shape(), op);
  Tensor a = a_in.dtype() == dt ? a_in : a_in.to(dt);
  Tensor b = b_in.dtype() == dt ? b_in : b_in.to(dt);
  const ElementwiseKernels& k = elementwise_kernels(op, a);
  Tensor out = Tensor::empty(shape, dt, a.device());
  k.binary(fop, a, b, out);
  return out;
}

Tensor grad_to(const Tensor& g, const Tensor& input) {
  Tensor r = sum_to(g, input.shape());
  return r.dtype() == input.dtype() ? r : r.to(input.dtype());
}

}  // namespace

// ---- the ops --------------------------------------------------------------------------------

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
  Tensor out = binary_kernel(a, b, result_type(a, b), true, "add", cuda::Binary::add);
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
  Tensor out = binary_kernel(a, b, result_type(a, b), true, "sub", cuda::Binary::sub);
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
  Tensor out = binary_kernel(a, b, result_type(a, b), true, "mul", cuda::Binary::mul);
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
  Tensor out = binary_kernel(a, b, dt, false, "div", cuda::Binary::div);
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
  Tensor out = binary_kernel(a, b, result_type(a, b), false, "pow", cuda::Binary::pow);
  if (needs_grad({a, b})) {
    Saved sa(a), sb(b), so(out);
    record(OpId::pow_tensor, {a, b}, out, [sa, sb, so](Grads& g) {
      const Tensor &av = sa.get(), &bv = sb.get();
      DType dt = so.get().dtype();
      if (g.needs(0)) {
        Tensor dbase = binary_kernel(av, bv, dt, false, "pow", cuda::Binary::pow_dbase);
        g.in[0] = grad_to(binary_kernel(g.out[0], dbase, dt, false, "pow", cuda::Binary::mul), av);
      }
      if (g.needs(1)) {
        Tensor dlog = binary_kernel(so.get(), av, dt, false, "pow", cuda::Binary::pow_dexp);
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
  const ElementwiseKernels& k = elementwise_kernels("where", ac);
  Tensor out = Tensor::empty(shape, dt, a.device());
  k.where(cond, ac, bc, out);
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
// Bool operands are compared as int32.
Tensor compare(const Tensor& a, const Tensor& b, const char* op, cuda::Binary fop) {
  check_binary(a, b, op);
  DType dt = result_type(a, b);
  if (dt == DType::b8) dt = DType::i32;
  Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor ac = a.dtype() == dt ? a : a.to(dt), bc = b.dtype() == dt ? b : b.to(dt);
  const ElementwiseKernels& k = elementwise_kernels(op, ac);
  Tensor out = Tensor::empty(shape, DType::b8, a.device());
  k.binary(fop, ac, bc, out);
  return out;
}
}  // namespace

Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", cuda::Binary::eq); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", cuda::Binary::ne); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", cuda::Binary::lt); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", cuda::Binary::le); }
Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", cuda::Binary::gt); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", cuda::Binary::ge); }

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/elementwise.py) ----------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// Contiguous, non-contiguous, 0-dim and an odd-sized 3-D case for a unary op on `make(shape)`.
std::function<std::vector<Sample>(Generator&)> unary_samples(
    std::function<Tensor(Generator&, const Shape&)> make, json args = json::object()) {
  return [make, args](Generator& g) {
    return std::vector<Sample>{
        {"contiguous", {make(g, {3, 4})}, args},
        {"non-contiguous", {noncontig(make(g, {4, 3}))}, args},
        {"0-dim", {make(g, {})}, args},
        {"3-d odd", {make(g, {2, 3, 5})}, args},
    };
  };
}

Tensor normal(Generator& g, const Shape& s) { return randn(g, s); }
Tensor positive(Generator& g, const Shape& s) { return uniform(g, s, 0.5, 2.0); }
Tensor nonzero(Generator& g, const Shape& s) { return away_from_zero(g, s, 0.1); }

// Values in [-2, 2] at least `gap` away from every point in `kinks`.
Tensor away_from(Generator& g, const Shape& s, std::vector<double> kinks, double gap) {
  auto v = uniform(g, s, -2.0, 2.0).to_vector<double>();
  for (double& x : v)
    for (double k : kinks)
      if (std::fabs(x - k) < gap) x = x < k ? k - gap : k + gap;
  return Tensor::from_vector(v, s);
}

#define UNARY(NAME, MAKE, CALL)                                                          \
  SSM_OP_INFO({.name = #NAME,                                                            \
               .nodes = {OpId::NAME},                                                    \
               .run = [](const Tensors& in, const json& a) { (void)a; return Tensors{CALL}; }, \
               .samples = unary_samples(MAKE)})

UNARY(neg, normal, neg(in[0]));
UNARY(exp, normal, exp(in[0]));
UNARY(log, positive, log(in[0]));
UNARY(sqrt, positive, sqrt(in[0]));
UNARY(rsqrt, positive, rsqrt(in[0]));
UNARY(abs, nonzero, abs(in[0]));
UNARY(tanh, normal, tanh(in[0]));
UNARY(sigmoid, normal, sigmoid(in[0]));
UNARY(silu, normal, silu(in[0]));
UNARY(relu, nonzero, relu(in[0]));

SSM_OP_INFO({.name = "pow",
             .nodes = {OpId::pow},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{pow(in[0], a.at("exponent").get<double>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"fractional exponent", {positive(g, {3, 4})}, {{"exponent", 2.5}}},
                   {"negative exponent", {noncontig(positive(g, {4, 3}))}, {{"exponent", -1.5}}},
                   {"integer exponent, negative base", {normal(g, {2, 5})}, {{"exponent", 3.0}}},
               };
             }});

SSM_OP_INFO({.name = "gelu",
             .nodes = {OpId::gelu},
             .run = [](const Tensors& in, const json& a) {
               auto approx = a.at("approximate").get<std::string>() == "tanh" ? GeluApprox::tanh
                                                                              : GeluApprox::none;
               return Tensors{gelu(in[0], approx)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"erf", {normal(g, {3, 4})}, {{"approximate", "none"}}},
                   {"tanh", {normal(g, {3, 4})}, {{"approximate", "tanh"}}},
                   {"erf non-contiguous", {noncontig(normal(g, {4, 3}))}, {{"approximate", "none"}}},
               };
             }});

SSM_OP_INFO({.name = "softplus",
             .nodes = {OpId::softplus},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{softplus(in[0], a.at("beta").get<double>(),
                                       a.at("threshold").get<double>())};
             },
             .samples = [](Generator& g) {
               // beta 2, threshold 3: inputs in [-2, 2] cross the linear region at x > 1.5;
               // keep them away from that switch point.
               return std::vector<Sample>{
                   {"default", {normal(g, {3, 4})}, {{"beta", 1.0}, {"threshold", 20.0}}},
                   {"beta and threshold", {away_from(g, {4, 5}, {1.5}, 0.05)},
                    {{"beta", 2.0}, {"threshold", 3.0}}},
               };
             }});

SSM_OP_INFO({.name = "clamp",
             .nodes = {OpId::clamp},
             .run = [](const Tensors& in, const json& a) {
               std::optional<double> lo, hi;
               if (!a.at("min").is_null()) lo = a.at("min").get<double>();
               if (!a.at("max").is_null()) hi = a.at("max").get<double>();
               return Tensors{clamp(in[0], lo, hi)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"min and max", {away_from(g, {3, 4}, {-0.5, 0.7}, 0.05)},
                    {{"min", -0.5}, {"max", 0.7}}},
                   {"min only", {noncontig(away_from(g, {4, 3}, {0.2}, 0.05))},
                    {{"min", 0.2}, {"max", nullptr}}},
                   {"max only", {away_from(g, {5}, {-0.1}, 0.05)}, {{"min", nullptr}, {"max", -0.1}}},
               };
             }});

// Binary samples: same shape, broadcast both ways, non-contiguous, 0-dim operand.
std::function<std::vector<Sample>(Generator&)> binary_samples(
    std::function<Tensor(Generator&, const Shape&)> make_a,
    std::function<Tensor(Generator&, const Shape&)> make_b) {
  return [make_a, make_b](Generator& g) {
    return std::vector<Sample>{
        {"same shape", {make_a(g, {3, 4}), make_b(g, {3, 4})}},
        {"broadcast", {make_a(g, {3, 1, 4}), make_b(g, {2, 4})}},
        {"broadcast size-1", {make_a(g, {3, 4}), make_b(g, {3, 1})}},
        {"non-contiguous", {noncontig(make_a(g, {4, 3})), noncontig(make_b(g, {4, 3}))}},
        {"0-dim operand", {make_a(g, {2, 3}), make_b(g, {})}},
    };
  };
}

#define BINARY(NAME, NODE, MA, MB, CALL)                                               \
  SSM_OP_INFO({.name = NAME,                                                           \
               .nodes = {OpId::NODE},                                                  \
               .run = [](const Tensors& in, const json&) { return Tensors{CALL}; },    \
               .samples = binary_samples(MA, MB)})

BINARY("add", add, normal, normal, add(in[0], in[1]));
BINARY("sub", sub, normal, normal, sub(in[0], in[1]));
BINARY("mul", mul, normal, normal, mul(in[0], in[1]));
BINARY("div", div, normal, nonzero, div(in[0], in[1]));
BINARY("pow_tensor", pow_tensor, positive, normal, pow(in[0], in[1]));

SSM_OP_INFO({.name = "where",
             .nodes = {OpId::where},
             .run = [](const Tensors& in, const json&) { return Tensors{where(in[0], in[1], in[2])}; },
             .samples = [](Generator& g) {
               auto mask = [&](const Shape& s) { return gt(normal(g, s), Tensor::scalar(0.0, DType::f64)); };
               return std::vector<Sample>{
                   {"same shape", {mask({3, 4}), normal(g, {3, 4}), normal(g, {3, 4})}},
                   {"broadcast", {mask({3, 1}), normal(g, {1, 4}), normal(g, {3, 4})}},
                   {"non-contiguous", {mask({4, 3}), noncontig(normal(g, {4, 3})), normal(g, {3})}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
