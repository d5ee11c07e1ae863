// Tensor -> cuda::Arg / cuda::Dims, for the host code that calls the CUDA launchers.
#pragma once

#include "core/cuda/reduce.h"
#include "core/cuda/strided.h"
#include "core/tensor.h"

namespace ssm::cuda {

inline Dims dims_of(const Shape& s) {
  Dims d;
  d.ndim = s.size();
  for (int i = 0; i < s.size(); ++i) d.sizes[i] = s[i];
  return d;
}

// `t` must already have the problem's shape (broadcast views carry stride 0).
inline Arg arg_of(const Tensor& t) {
  Arg a;
  a.p = t.raw_data();
  a.dtype = t.dtype();
  for (int i = 0; i < t.dim(); ++i) a.strides[i] = t.strides()[i];
  return a;
}

// x reduced over the dims set in `mask` (kept dims, then reduced dims, each in order); the
// outputs are left for the caller to set.
inline ReduceProblem reduce_problem(const Tensor& x, uint32_t mask) {
  ReduceProblem p;
  p.x = x.raw_data();
  p.dtype = x.dtype();
  for (int d = 0; d < x.dim(); ++d) {
    bool red = mask >> d & 1u;
    Dims& D = red ? p.red : p.kept;
    int64_t* st = red ? p.red_strides : p.kept_strides;
    D.sizes[D.ndim] = x.shape()[d];
    st[D.ndim] = x.strides()[d];
    ++D.ndim;
  }
  return p;
}

}  // namespace ssm::cuda
