// CUDA copies and fills (core/cuda/copy.cu), called by core/copy.cpp. Every operand has the
// problem's shape (a broadcast source carries stride 0); all run on the legacy default stream.
#pragma once

#include "core/cuda/strided.h"

namespace ssm::cuda {

// dst = src element by element, with the CPU's conversion rules (core/convert.h) when the
// dtypes differ. Real dtypes only when they differ; same-dtype copies move bits (complex too).
void copy(const Dims& dims, const Arg& dst, const Arg& src);
// Every element of dst = value converted to dst's dtype (complex: value + 0i).
void fill(const Dims& dims, const Arg& dst, double value);

}  // namespace ssm::cuda
