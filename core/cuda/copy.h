// CUDA copies, fills and the gradient add (core/cuda/copy.cu), called by core/copy.cpp and
// core/grad_accumulate.cpp. Every operand has the
// problem's shape (a broadcast source carries stride 0); all run on the legacy default stream.
#pragma once

#include "core/cuda/strided.h"

namespace ssm::cuda {

// dst = src element by element, with the CPU's conversion rules (core/convert.h) when the
// dtypes differ. Real dtypes only when they differ; same-dtype copies move bits (complex too).
void copy(const Dims& dims, const Arg& dst, const Arg& src);
// Every element of dst = value converted to dst's dtype (complex: value + 0i).
void fill(const Dims& dims, const Arg& dst, double value);
// dst = a + b element by element, all three of one real floating dtype, added in its compute type
// and rounded once (the autograd engine's gradient sums, core/grad_accumulate.cpp).
void add(const Dims& dims, const Arg& dst, const Arg& a, const Arg& b);

}  // namespace ssm::cuda
