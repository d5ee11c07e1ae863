// flip: a copy through a view with the flipped dims' strides negated.
//   flip -> Node "flip": dx = flip(g, dims)
#include "ops/flip.h"

#include "core/autograd.h"
#include "core/error.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/flip_cuda.h"
#endif

namespace ssm {

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined(x, "flip", "x");
#ifndef SSM_WITH_CUDA
  SSM_CHECK(x.device().is_cpu(), "flip: no CUDA kernel in this build for ", describe(x));
#endif
  uint32_t seen = 0;
  std::vector<int64_t> wrapped;
  for (int64_t dim : dims) {
    int d = wrap_dim(dim, x.dim(), "flip");
    SSM_CHECK(!(seen >> d & 1u), "flip: dim ", d, " appears more than once in the dims list");
    seen |= 1u << d;
    wrapped.push_back(d);
  }
  // The same elements seen from the other end of each flipped dim; copy_ moves the bits.
  Shape strides = x.strides();
  int64_t offset = x.offset();
  for (int d = 0; d < x.dim(); ++d) {
    if (!(seen >> d & 1u) || x.shape()[d] == 0) continue;
    offset += (x.shape()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor view = make_view(x, x.shape(), strides, offset);
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda())
    cuda::flip_copy(cuda::make_walk<2>(x.shape(), {out.strides(), view.strides()}), out.raw_data(),
                    view.raw_data(), x.element_size(), x.device().index);
  else
#endif
    out.copy_(view);
  if (needs_grad({x})) {
    record(OpId::flip, {x}, out, [wrapped](Grads& g) { g.in[0] = flip(g.out[0], wrapped); });
  }
  return out;
}

}  // namespace ssm
