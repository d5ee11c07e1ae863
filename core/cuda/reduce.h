// The CUDA reduction engine (core/cuda/reduce.cu), used by sum_to/sum_kernel (core/reduce_to.cpp)
// and the reductions of ops/reduce.cpp.
//
// A problem is A results, each over R elements: x is walked as kept dims (row-major index a) and
// reduced dims (row-major index r), each with their own sizes and strides, so any permutation or
// strided view reduces without a copy. Floating values are accumulated in double (as the CPU).
// Threads: when the reduced elements are contiguous, a warp (short rows) or a block (long rows)
// per result, reading consecutive elements; when the kept dim is the contiguous one (column sums),
// 32 results per block side by side with 8 threads splitting the reduced set. Few long rows are
// also cut into chunks across blocks, with a second kernel combining the partial states in order.
// Tree combines have a fixed order: results are the same run to run.
#pragma once

#include <cstdint>

#include "core/cuda/strided.h"

namespace ssm::cuda {

enum class Reduce : uint8_t { sum, max, min, var, logsumexp };

struct ReduceProblem {
  const void* x = nullptr;
  DType dtype = DType::f32;  // x's dtype (sum: floating or int64; max/min: any real dtype)
  Dims kept, red;            // sizes of the kept and of the reduced dims
  int64_t kept_strides[kDims] = {}, red_strides[kDims] = {};
  // A results, contiguous: sum: x's dtype; max/min: values in x's dtype (may be null);
  // var/logsumexp: x's dtype.
  void* out = nullptr;
  // max/min: int64 indices (row-major over the reduced dims; may be null); var: the mean,
  // logsumexp: the result, in x's compute dtype (may be null).
  void* aux = nullptr;
  double correction = 1.0;  // var
};

void reduce(Reduce op, const ReduceProblem& p);

}  // namespace ssm::cuda
