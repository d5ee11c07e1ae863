// Reductions over a list of dims: sum, mean, max, min, var, logsumexp, argmax, argmin.
//
// `dims` lists the dims to reduce; negative dims count from the end and an empty list means every
// dim. A dim may appear once. With keepdim the reduced dims stay as size 1, otherwise they are
// removed; e.g. x: (B, L, D), dims {0, 2} -> (L) or, with keepdim, (1, L, 1). A 0-dim tensor
// accepts dim 0 / -1 and reduces to itself. The whole-tensor overloads return a 0-dim tensor.
//
// Floating inputs keep their dtype and are accumulated in double (bf16/f16 values are converted
// on load). sum takes integer and bool inputs too and gives int64, as PyTorch does (summed
// through double: exact while the partial sums stay below 2^53). max and min take integer and
// bool inputs and keep their dtype; argmax and argmin take them too. mean, var and logsumexp need
// a floating input.
//
// Gradients: sum -> g expanded; mean -> g / n; var -> 2 (x - mean) g / (n - correction);
// logsumexp -> g * softmax(x); max/min -> g goes to the FIRST maximal (minimal) element of each
// reduced set only (row-major order over the reduced dims), as torch.max(x, dim) does; ties get
// no share (torch.amax would split g among them). NaN counts as larger/smaller than everything,
// so a reduced set holding a NaN gives NaN and its index, as in PyTorch.
//
// Empty reduced sets: sum gives 0, mean and var NaN, logsumexp -inf; max, min, argmax and argmin
// raise an ssm::Error.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ssm {

Tensor sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
Tensor min(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);
// torch.var(x, dims, correction=, keepdim=): sum (x - mean)^2 / max(0, n - correction);
// correction 1 is the unbiased estimate, 0 the population variance. Note the order: keepdim
// comes before correction here, as in the other reductions of this file.
Tensor var(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false,
           double correction = 1.0);
// log(sum(exp(x))) computed as m + log(sum(exp(x - m))), m = max over the reduced set.
Tensor logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim = false);

// Whole-tensor versions: 0-dim results. (No var(x, correction) overload: var(x, {1}) would
// silently pick it over the dims list.)
Tensor sum(const Tensor& x);
Tensor mean(const Tensor& x);
Tensor max(const Tensor& x);
Tensor min(const Tensor& x);
Tensor var(const Tensor& x);  // correction 1; use var(x, {}, false, c) for another correction

// Index (int64) of the first maximal / minimal element along `dim`; not differentiable.
// x: (..., n, ...) -> (..., ...) or, with keepdim, (..., 1, ...).
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& x, int64_t dim, bool keepdim = false);
// Flat row-major index of the first maximal / minimal element of the whole tensor (0-dim).
Tensor argmax(const Tensor& x);
Tensor argmin(const Tensor& x);

// ---- kernels (ops/dispatch.h): CPU in ops/reduce.cpp, CUDA in ops/cuda/reduce.cpp
// (sum, and mean's sum, use core's sum_kernel, which serves both devices.)

// Which dims a reduction covers and the shapes around it: x viewed as an (A, R) problem.
struct ReducePlan {
  uint32_t mask = 0;  // bit d set: dim d is reduced
  Shape keep_shape;   // x's shape with the reduced dims set to 1
  Shape out_shape;    // keep_shape, reduced dims dropped unless keepdim
  Shape perm;         // kept dims, then reduced dims (each in increasing order)
  int64_t A = 1;      // number of results
  int64_t R = 1;      // elements per result
};

// x: the op's input as given (any layout). Outputs are fresh contiguous tensors on x's device;
// an undefined optional output is not wanted.
struct ReduceKernels {
  bool (*supports)(DType x_dtype);
  // The first maximal (is_max) or minimal element of each reduced set, R > 0, any real dtype:
  // values (out_shape, x's dtype; optional) and indices (out_shape, int64: its position in the
  // row-major order of the reduced dims).
  void (*extreme)(const Tensor& x, const ReducePlan& p, bool is_max, const Tensor& values,
                  const Tensor& indices);
  // max/min backward: dx (x's shape, zero-filled) gets g[a] at the element indices[a] of row a;
  // g: (A) contiguous, of dx's floating dtype.
  void (*scatter_rows)(const Tensor& g, const Tensor& indices, const ReducePlan& p,
                       const Tensor& dx);
  // out (out_shape, x's floating dtype) = sum (x - mean)^2 / max(0, n - correction); mean
  // (keep_shape, x's compute dtype; optional) gets the mean.
  void (*var)(const Tensor& x, const ReducePlan& p, double correction, const Tensor& out,
              const Tensor& mean);
  // out (out_shape, x's floating dtype) = log(sum(exp(x))); lse (keep_shape, x's compute dtype;
  // optional) gets the same value unrounded.
  void (*logsumexp)(const Tensor& x, const ReducePlan& p, const Tensor& out, const Tensor& lse);
  // dx = scale (x - mean) g and dx = g exp(x - lse): x, g and dx of x's floating dtype, mean and
  // lse of its compute dtype; mean, lse and g have keep_shape (broadcast over the reduced dims).
  void (*var_backward)(const Tensor& x, const Tensor& mean, const Tensor& g, double scale,
                       const Tensor& dx);
  void (*logsumexp_backward)(const Tensor& x, const Tensor& lse, const Tensor& g,
                             const Tensor& dx);
  // out = x / n in the compute type (mean); x and out of one floating dtype and shape.
  void (*divide)(const Tensor& x, double n, const Tensor& out);
};

}  // namespace ssm
