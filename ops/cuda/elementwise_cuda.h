// CUDA elementwise kernels for ops/elementwise.cpp (ops/cuda/elementwise.cu: unary forward and
// backward; ops/cuda/elementwise_binary.cu: binary ops, comparisons, where). Plain launchers:
// every operand is a cuda::Arg over the problem's shape (broadcast inputs carry stride 0); dtypes
// were checked and converted by the caller; all run on the legacy default stream.
#pragma once

#include <cstdint>

#include "core/cuda/strided.h"

namespace ssm::cuda {

// The functors of ops/unary_functors.h. Params as UnaryParams: pow a = exponent; softplus a =
// beta, b = threshold; clamp a = min, b = max.
enum class Unary : uint8_t {
  neg, exp, log, sqrt, rsqrt, pow, abs, tanh, sigmoid, silu, gelu, gelu_tanh, softplus, relu, clamp
};

// y = f(x); x and y of one dtype (floating; integers too for neg and abs).
void unary_forward(Unary op, double a, double b, const Dims& dims, const Arg& y, const Arg& x);
// dx = g f'(s), s = x or y as the functor's kUsesOutput says; dx, g, s of one floating dtype.
void unary_backward(Unary op, double a, double b, const Dims& dims, const Arg& dx, const Arg& g,
                    const Arg& s);

enum class Binary : uint8_t {
  add, sub, mul, div, pow,
  pow_dbase,  // (x, y) -> y x^(y-1)
  pow_dexp,   // (o, x) -> 0 when x == 0, else o log x
  eq, ne, lt, le, gt, ge  // bool outputs
};
// out = f(a, b); a and b of one dtype, out of that dtype (bool for comparisons).
void binary(Binary op, const Dims& dims, const Arg& out, const Arg& a, const Arg& b);
// out = cond ? a : b; cond bool, a, b and out of one dtype.
void where(const Dims& dims, const Arg& out, const Arg& cond, const Arg& a, const Arg& b);
// out = x / n in the compute type; x and out of one floating dtype.
void div_scalar(const Dims& dims, const Arg& out, const Arg& x, double n);

}  // namespace ssm::cuda
