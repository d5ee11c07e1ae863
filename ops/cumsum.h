// Cumulative sum along one dim (PyTorch semantics).
//
// Dims: L = the summed dim; shapes are written for it being the last: x: (..., L).
#pragma once

#include "core/tensor.h"

namespace ssm {

// out[..., l] = x[..., 0] + ... + x[..., l]
// x: (..., L) -> out: (..., L). Floating inputs keep their dtype and are summed in float64;
// integer and bool inputs give int64 (as torch.cumsum). A 0-dim x takes dim 0 or -1.
Tensor cumsum(const Tensor& x, int64_t dim);

}  // namespace ssm
