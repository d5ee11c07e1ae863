// Plain-data arguments shared by the launchers of the dense ops' CUDA kernels (matmul, norm,
// cross_entropy, embedding, causal_conv1d). Includable from .cpp files of CPU-only builds.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// Element offset of a flat row-major index into a strided view of up to 8 dims (the dims of a
// tensor, or the leading "row" dims of one).
struct NdIndex {
  int n = 0;
  int64_t size[8] = {};
  int64_t stride[8] = {};
  SSM_HD int64_t offset(int64_t i) const {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      int64_t q = i / size[d];
      off += (i - q * size[d]) * stride[d];
      i = q;
    }
    return off;
  }
};

}  // namespace ssm::cuda
