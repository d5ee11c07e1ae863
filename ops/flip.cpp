// flip: a copy through a view with the flipped dims' strides negated, defined once over its
// kernel tables; the op's test-table entry.
//   flip -> Node "flip": dx = flip(g, dims)
#include "ops/flip.h"

#include "core/autograd.h"
#include "core/error.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

void cpu_copy(const Tensor& src, const Tensor& out) { Tensor(out).copy_(src); }

const FlipKernels kCpuKernels = {all_dtypes, cpu_copy};
SSM_REGISTER_KERNELS(FlipKernels, cpu, kCpuKernels);

}  // namespace

Tensor flip(const Tensor& x, const std::vector<int64_t>& dims) {
  check_defined(x, "flip", "x");
  uint32_t seen = 0;
  std::vector<int64_t> wrapped;
  for (int64_t dim : dims) {
    int d = wrap_dim(dim, x.dim(), "flip");
    SSM_CHECK(!(seen >> d & 1u), "flip: dim ", d, " appears more than once in the dims list");
    seen |= 1u << d;
    wrapped.push_back(d);
  }
  const FlipKernels& k = kernels<FlipKernels>("flip", x);
  // The same elements seen from the other end of each flipped dim; the kernel moves the bits.
  Shape strides = x.strides();
  int64_t offset = x.offset();
  for (int d = 0; d < x.dim(); ++d) {
    if (!(seen >> d & 1u) || x.shape()[d] == 0) continue;
    offset += (x.shape()[d] - 1) * strides[d];
    strides[d] = -strides[d];
  }
  Tensor out = Tensor::empty(x.shape(), x.dtype(), x.device());
  k.copy(make_view(x, x.shape(), strides, offset), out);
  if (needs_grad({x})) {
    record(OpId::flip, {x}, out, [wrapped](Grads& g) { g.in[0] = flip(g.out[0], wrapped); });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/flip.py) --------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "flip",
             .nodes = {OpId::flip},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{flip(in[0], a.at("dims").get<std::vector<int64_t>>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"first dim", {randn(g, {3, 4})}, {{"dims", {0}}}},
                   {"two dims, negative", {randn(g, {2, 3, 4})}, {{"dims", {-1, 0}}}},
                   {"non-contiguous, all dims", {noncontig(randn(g, {4, 3}))}, {{"dims", {0, 1}}}},
                   {"no dims", {randn(g, {2, 3})}, {{"dims", json::array()}}},
                   {"0-dim", {randn(g, {})}, {{"dims", {0}}}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
