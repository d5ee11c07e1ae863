// Sum kernels used by autograd's broadcasting rules and by ops/reduce. They record no graph.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

// Sum over the dims whose bit is set in `dims` (bit d = dim d); keepdim keeps them as size 1.
// Floating inputs keep their dtype (accumulated in double); integer inputs sum to int64.
Tensor sum_kernel(const Tensor& x, uint32_t dims, bool keepdim);

// Sums `g` back to `shape`, the shape it was broadcast from.
Tensor sum_to(const Tensor& g, const Shape& shape);

}  // namespace ssm
