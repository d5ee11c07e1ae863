// Elementwise ops with NumPy/PyTorch broadcasting.
//
// Binary ops promote dtypes like PyTorch (a 0-dim tensor or a C++ number does not widen a tensor
// of the same category). Unary maths ops take floating tensors; neg/abs/add/sub/mul also take
// integers. Comparisons return bool tensors and are not differentiable.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>

#include "core/tensor.h"

namespace ssm {

enum class GeluApprox { none, tanh };

// ---- unary ----
Tensor neg(const Tensor& x);
Tensor exp(const Tensor& x);
Tensor log(const Tensor& x);
Tensor sqrt(const Tensor& x);
Tensor rsqrt(const Tensor& x);
Tensor pow(const Tensor& x, double exponent);
Tensor abs(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor gelu(const Tensor& x, GeluApprox approximate = GeluApprox::none);
Tensor softplus(const Tensor& x, double beta = 1.0, double threshold = 20.0);
Tensor relu(const Tensor& x);
Tensor clamp(const Tensor& x, std::optional<double> min, std::optional<double> max);

// ---- binary / ternary ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);  // true division: integers give float32
Tensor pow(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);  // cond: bool

Tensor add(const Tensor& a, double b);
Tensor sub(const Tensor& a, double b);
Tensor mul(const Tensor& a, double b);
Tensor div(const Tensor& a, double b);

// ---- comparisons (bool results, no gradient) ----
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);

// A 0-dim tensor holding `v`, with the dtype and device of `like` (used for C++ numbers).
Tensor scalar_like(double v, const Tensor& like);

inline Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
inline Tensor operator-(const Tensor& a) { return neg(a); }
inline Tensor operator+(const Tensor& a, double b) { return add(a, b); }
inline Tensor operator-(const Tensor& a, double b) { return sub(a, b); }
inline Tensor operator*(const Tensor& a, double b) { return mul(a, b); }
inline Tensor operator/(const Tensor& a, double b) { return div(a, b); }
inline Tensor operator+(double a, const Tensor& b) { return add(b, a); }
inline Tensor operator*(double a, const Tensor& b) { return mul(b, a); }
inline Tensor operator-(double a, const Tensor& b) { return add(neg(b), a); }
inline Tensor operator/(double a, const Tensor& b) { return div(scalar_like(a, b), b); }

// ---- kernels (ops/dispatch.h): CPU in ops/elementwise.cpp, CUDA in ops/cuda/elementwise.cpp

// The functions are named by the enums of ops/cuda/elementwise_cuda.h, which the CUDA launchers
// take; the CPU table maps each to its functor of ops/unary_functors.h or its lambda.
namespace cuda {
enum class Unary : uint8_t;
enum class Binary : uint8_t;
}  // namespace cuda
struct UnaryParams;  // ops/unary_functors.h

// The ops check and convert the operands: the value operands of a call share one dtype (the
// op's), inputs have the output's shape or broadcast to it (each backend expands them its own
// way), and outputs are fresh contiguous tensors.
struct ElementwiseKernels {
  bool (*supports)(DType dtype);
  // y = f(x); x and y of one dtype (floating; integer too for neg and abs) and shape.
  void (*unary)(cuda::Unary op, const UnaryParams& p, const Tensor& x, const Tensor& y);
  // dx = g f'(s), s = x or y as the functor's kUsesOutput says; g, s, dx of one floating dtype
  // and shape.
  void (*unary_backward)(cuda::Unary op, const UnaryParams& p, const Tensor& g, const Tensor& s,
                         const Tensor& dx);
  // out = f(a, b); a and b of one dtype (floating for div and the pow functions), out of that
  // dtype (bool for the comparisons).
  void (*binary)(cuda::Binary op, const Tensor& a, const Tensor& b, const Tensor& out);
  // out = cond ? a : b; cond bool; a, b and out of one dtype.
  void (*where)(const Tensor& cond, const Tensor& a, const Tensor& b, const Tensor& out);
};

}  // namespace ssm
