// CUDA pad for ops/pad.cpp (CUDA builds only): a plain-pointer launcher.
#pragma once

#include <cstdint>

#include "core/shape.h"

namespace ssm::cuda {

struct PadArg {
  int ndim = 0;
  int mode = 0;  // PadMode: 0 constant, 1 reflect, 2 replicate
  int64_t numel = 0;  // of the output
  int64_t out_size[kMaxDims] = {};
  int64_t in_size[kMaxDims] = {};
  int64_t in_stride[kMaxDims] = {};
  int64_t left[kMaxDims] = {};  // left pad per dim (0 for dims not padded)
};

// out (contiguous, a.out_size) from x (a.in_size, a.in_stride) with pad.cpp's coordinate maps;
// positions that map to no input get the `elem_size` bytes at `fill` (a host pointer).
void pad(const PadArg& a, void* out, const void* x, const void* fill, int64_t elem_size,
         int device);

}  // namespace ssm::cuda
