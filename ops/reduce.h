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

}  // namespace ssm
