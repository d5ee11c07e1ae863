// Gradient accumulation (a + b for same-shaped gradients), used by the autograd engine and by
// leaves' .grad. Records no graph.
#pragma once

#include "core/tensor.h"

namespace ssm {

Tensor add_grads(const Tensor& a, const Tensor& b);

}  // namespace ssm
