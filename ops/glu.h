// The gated linear unit along one dim, torch.nn.functional.glu: x split in halves a, b along
// `dim` (its size even) -> a * sigmoid(b), half as long along `dim`. The output gate of S4, S4D
// (output_linear's GLU) and H3.
//
// One op rather than split + sigmoid + mul: a single pass each way (forward reads x once and
// writes y; backward reads x and dy and writes dx), where the composite makes five passes
// forward and more in backward, over tensors of the layer's full activation size.
//   dx_a = dy sigmoid(b),  dx_b = dy a sigmoid(b) (1 - sigmoid(b))
// Floating dtypes (bf16 / f16 computed in float32); x is made contiguous.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm {

Tensor glu(const Tensor& x, int64_t dim = -1);

// ---- kernels (ops/dispatch.h): CPU in ops/glu.cpp, CUDA in ops/cuda/glu.cpp.
// x: (outer, 2, inner) contiguous; y, dy: (outer, inner); dx like x. inner = half of dim x the
// dims after it.
struct GluKernels {
  bool (*supports)(DType dtype);
  void (*forward)(const Tensor& x, const Tensor& y, int64_t outer, int64_t inner);
  void (*backward)(const Tensor& x, const Tensor& dy, const Tensor& dx, int64_t outer, int64_t inner);
};

}  // namespace ssm
