// Indexing along one dim: gather, index_select, scatter_add (PyTorch semantics).
//
// Dims: d = the indexed dim; shapes are written for d = 0 of a 3-D tensor, e.g. x: (N, J, K).
// Index tensors are int32 or int64 and every value must lie in [0, x.size(d)) (negative values
// are errors, as in PyTorch); a bad value raises ssm::Error naming the value, its position and
// the bound. Results are deterministic: scatter_add adds colliding entries in index order.
#pragma once

#include "core/tensor.h"

namespace ssm {

// out[i][j][k] = x[index[i][j][k]][j][k]
// x: (N, J, K), index: (M, J', K') with J' <= J, K' <= K (any M) -> out: (M, J', K'), x's dtype.
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);

// out[i][j][k] = x[index[i]][j][k]
// x: (N, J, K), index: (M,) or 0-dim (one index) -> out: (M, J, K)
Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index);

// out = x, then out[index[i][j][k]][j][k] += src[i][j][k] for every position of index.
// x: (N, J, K), index: (M, J', K'), src: (M'', J'', K'') with index no larger than src in any dim
// and no larger than x in dims other than d -> out: (N, J, K). x and src share a numeric dtype;
// bf16/f16 sums are taken in float32. Out of place (x is not modified); differentiable w.r.t.
// x and src.
Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src);

// ---- kernels (ops/dispatch.h): CPU in ops/index.cpp, CUDA in ops/cuda/index.cpp ----------------

struct IndexKernels {
  // Gathers move bits, so every dtype; scatter_add's dtypes (floating, int32, int64) are the op's
  // check.
  bool (*supports)(DType x_dtype);
  // out[p] = x[p with its dim-d coordinate replaced by index[p]], for every position p of index's
  // shape (index may be a broadcast view; out any strides, x's dtype). Out-of-range entries are
  // skipped: returns false when there was one (the op raises the error).
  bool (*gather)(const Tensor& out, const Tensor& x, int d, const Tensor& index);
  // out = x, then out[p with its dim-d coordinate replaced by index[p]] += src[p] for every
  // position p of index's shape, each position's run along d summed in order (src: (at least)
  // index's shape, x's dtype). Sums in acc_dtype (x's, or float32 for 16-bit x), out a new tensor
  // in x's dtype. Returns false, out unset, when an index was out of range (the op raises).
  bool (*scatter_add)(const Tensor& x, int d, const Tensor& index, const Tensor& src,
                      DType acc_dtype, Tensor& out);
};

}  // namespace ssm
