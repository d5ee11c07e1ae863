// CUDA binary elementwise ops, comparisons and where, through the elementwise engine.
#include <cmath>

#include "core/error.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/cuda/elementwise_engine.cuh"

namespace ssm::cuda {

namespace {

using std::log;
using std::pow;

struct Add { template <class A> SSM_HD A operator()(A x, A y) const { return x + y; } };
struct Sub { template <class A> SSM_HD A operator()(A x, A y) const { return x - y; } };
struct Mul { template <class A> SSM_HD A operator()(A x, A y) const { return x * y; } };
struct Div { template <class A> SSM_HD A operator()(A x, A y) const { return x / y; } };
struct Pow { template <class A> SSM_HD A operator()(A x, A y) const { return pow(x, y); } };
struct PowDBase {
  template <class A> SSM_HD A operator()(A x, A y) const { return y * pow(x, y - 1); }
};
struct PowDExp {
  template <class A> SSM_HD A operator()(A o, A x) const { return x == A(0) ? A(0) : o * log(x); }
};
struct Eq { template <class A> SSM_HD bool operator()(A x, A y) const { return x == y; } };
struct Ne { template <class A> SSM_HD bool operator()(A x, A y) const { return x != y; } };
struct Lt { template <class A> SSM_HD bool operator()(A x, A y) const { return x < y; } };
struct Le { template <class A> SSM_HD bool operator()(A x, A y) const { return x <= y; } };
struct Gt { template <class A> SSM_HD bool operator()(A x, A y) const { return x > y; } };
struct Ge { template <class A> SSM_HD bool operator()(A x, A y) const { return x >= y; } };
struct Where {
  template <class A> SSM_HD A operator()(bool c, A x, A y) const { return c ? x : y; }
};
struct DivScalar {
  double n;
  template <class A> SSM_HD A operator()(A v) const { return v / A(n); }
};

template <class F>
void numeric(const Dims& dims, const Arg& out, const Arg& a, const Arg& b, const char* op) {
  SSM_DISPATCH_NUMERIC(a.dtype, op, [&] {
    elementwise<scalar_t, scalar_t, scalar_t>(dims, out, {&a, &b}, F{}, op);
  });
}

template <class F>
void floating(const Dims& dims, const Arg& out, const Arg& a, const Arg& b, const char* op) {
  SSM_DISPATCH_FLOAT(a.dtype, op, [&] {
    elementwise<scalar_t, scalar_t, scalar_t>(dims, out, {&a, &b}, F{}, op);
  });
}

template <class F>
void compare(const Dims& dims, const Arg& out, const Arg& a, const Arg& b, const char* op) {
  SSM_DISPATCH_NUMERIC(a.dtype, op, [&] {
    elementwise<bool, scalar_t, scalar_t>(dims, out, {&a, &b}, F{}, op);
  });
}

}  // namespace

void binary(Binary op, const Dims& dims, const Arg& out, const Arg& a, const Arg& b) {
  switch (op) {
    case Binary::add: return numeric<Add>(dims, out, a, b, "add");
    case Binary::sub: return numeric<Sub>(dims, out, a, b, "sub");
    case Binary::mul: return numeric<Mul>(dims, out, a, b, "mul");
    case Binary::div: return floating<Div>(dims, out, a, b, "div");
    case Binary::pow: return floating<Pow>(dims, out, a, b, "pow");
    case Binary::pow_dbase: return floating<PowDBase>(dims, out, a, b, "pow");
    case Binary::pow_dexp: return floating<PowDExp>(dims, out, a, b, "pow");
    case Binary::eq: return compare<Eq>(dims, out, a, b, "eq");
    case Binary::ne: return compare<Ne>(dims, out, a, b, "ne");
    case Binary::lt: return compare<Lt>(dims, out, a, b, "lt");
    case Binary::le: return compare<Le>(dims, out, a, b, "le");
    case Binary::gt: return compare<Gt>(dims, out, a, b, "gt");
    case Binary::ge: return compare<Ge>(dims, out, a, b, "ge");
  }
  SSM_FAIL("binary: unknown CUDA op ", int(op));
}

void where(const Dims& dims, const Arg& out, const Arg& cond, const Arg& a, const Arg& b) {
  SSM_DISPATCH_NUMERIC(a.dtype, "where", [&] {
    elementwise<scalar_t, bool, scalar_t, scalar_t>(dims, out, {&cond, &a, &b}, Where{}, "where");
  });
}

void div_scalar(const Dims& dims, const Arg& out, const Arg& x, double n) {
  SSM_DISPATCH_FLOAT(x.dtype, "mean", [&] {
    elementwise<scalar_t, scalar_t>(dims, out, {&x}, DivScalar{n}, "mean");
  });
}

}  // namespace ssm::cuda
