// CUDA unary elementwise ops, forward and backward, through the elementwise engine with the
// functors the CPU uses (ops/unary_functors.h).
#include "core/error.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/cuda/elementwise_engine.cuh"
#include "ops/unary_functors.h"

namespace ssm::cuda {

namespace {

template <class Fn>
struct Forward {
  UnaryParams p;
  template <class A>
  SSM_HD A operator()(A v) const {
    return Fn::template f<A>(v, p);
  }
};

template <class Fn>
struct Backward {
  UnaryParams p;
  template <class A>
  SSM_HD A operator()(A g, A s) const {
    if constexpr (Fn::kUsesOutput)
      return g * Fn::template df<A>(A(0), s, p);
    else
      return g * Fn::template df<A>(s, A(0), p);
  }
};

template <class Fn, bool AllowInt>
void forward(const UnaryParams& p, const Dims& dims, const Arg& y, const Arg& x) {
  if constexpr (AllowInt) {
    SSM_DISPATCH_NUMERIC(x.dtype, "unary", [&] {
      elementwise<scalar_t, scalar_t>(dims, y, {&x}, Forward<Fn>{p}, "unary op");
    });
  } else {
    SSM_DISPATCH_FLOAT(x.dtype, "unary", [&] {
      elementwise<scalar_t, scalar_t>(dims, y, {&x}, Forward<Fn>{p}, "unary op");
    });
  }
}

template <class Fn>
void backward(const UnaryParams& p, const Dims& dims, const Arg& dx, const Arg& g, const Arg& s) {
  SSM_DISPATCH_FLOAT(s.dtype, "backward", [&] {
    elementwise<scalar_t, scalar_t, scalar_t>(dims, dx, {&g, &s}, Backward<Fn>{p}, "unary backward");
  });
}

template <template <class, bool> class Run>
void by_op(Unary op, auto&&... args) {
  switch (op) {
    case Unary::neg: return Run<fn::Neg, true>::go(args...);
    case Unary::exp: return Run<fn::Exp, false>::go(args...);
    case Unary::log: return Run<fn::Log, false>::go(args...);
    case Unary::sqrt: return Run<fn::Sqrt, false>::go(args...);
    case Unary::rsqrt: return Run<fn::Rsqrt, false>::go(args...);
    case Unary::pow: return Run<fn::Pow, false>::go(args...);
    case Unary::abs: return Run<fn::Abs, true>::go(args...);
    case Unary::tanh: return Run<fn::Tanh, false>::go(args...);
    case Unary::sigmoid: return Run<fn::Sigmoid, false>::go(args...);
    case Unary::silu: return Run<fn::Silu, false>::go(args...);
    case Unary::gelu: return Run<fn::Gelu, false>::go(args...);
    case Unary::gelu_tanh: return Run<fn::GeluTanh, false>::go(args...);
    case Unary::softplus: return Run<fn::Softplus, false>::go(args...);
    case Unary::relu: return Run<fn::Relu, false>::go(args...);
    case Unary::clamp: return Run<fn::Clamp, false>::go(args...);
  }
  SSM_FAIL("unary: unknown CUDA op ", int(op));
}

template <class Fn, bool AllowInt>
struct RunForward {
  static void go(const UnaryParams& p, const Dims& dims, const Arg& y, const Arg& x) {
    forward<Fn, AllowInt>(p, dims, y, x);
  }
};
template <class Fn, bool>
struct RunBackward {
  static void go(const UnaryParams& p, const Dims& dims, const Arg& dx, const Arg& g, const Arg& s) {
    backward<Fn>(p, dims, dx, g, s);
  }
};

}  // namespace

void unary_forward(Unary op, double a, double b, const Dims& dims, const Arg& y, const Arg& x) {
  by_op<RunForward>(op, UnaryParams{a, b}, dims, y, x);
}

void unary_backward(Unary op, double a, double b, const Dims& dims, const Arg& dx, const Arg& g,
                    const Arg& s) {
  by_op<RunBackward>(op, UnaryParams{a, b}, dims, dx, g, s);
}

}  // namespace ssm::cuda
