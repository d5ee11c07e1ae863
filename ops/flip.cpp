// flip: a copy through a view with the flipped dims' strides negated.
//   flip -> Node "flip": dx = flip(g, dims)
#include "ops/flip.h"

#include "core/autograd.h"
#include "core/error.h"

namespace ssm {

namespace {

void check_cpu(const Tensor& t, const char* op) {
  SSM_CHECK(t.device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(t));
}

}  // namespace

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined(x, "flip", "x");
  check_cpu(x, "flip");
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
  out.copy_(make_view(x, x.shape(), strides, offset));
  if (needs_grad({x})) {
    record(OpId::flip, {x}, out, [wrapped](Grads& g) { g.in[0] = flip(g.out[0], wrapped); });
  }
  return out;
}

}  // namespace ssm
