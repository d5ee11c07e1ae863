// Host side of cuda::NdIndex: the leading dims of a tensor as a kernel argument (CUDA builds).
#pragma once

#include "core/error.h"
#include "core/tensor.h"
#include "ops/cuda/launch_args.h"

namespace ssm::cuda {

// t's dims [0, ndims): offset(i) is the element offset of row-major index i over those dims,
// counted from t.raw_data().
inline NdIndex nd_index(const Tensor& t, int ndims) {
  NdIndex ix;
  for (int d = 0; d < ndims; ++d) {
    if (t.size(d) == 1) continue;
    ix.size[ix.n] = t.size(d);
    ix.stride[ix.n] = t.stride(d);
    ++ix.n;
  }
  return ix;
}

}  // namespace ssm::cuda
