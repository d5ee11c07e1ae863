// OpInfo entries for ops/cumsum (PyTorch side: tools/fixtures/cumsum.py).
#include "ops/cumsum.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "cumsum",
             .nodes = {OpId::cumsum},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{cumsum(in[0], a.at("dim").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"last dim", {randn(g, {3, 5})}, {{"dim", 1}}},
                   {"first dim", {randn(g, {4, 3})}, {{"dim", 0}}},
                   {"3-d, negative dim", {randn(g, {2, 5, 3})}, {{"dim", -2}}},
                   {"non-contiguous, dim 0", {noncontig(randn(g, {5, 4}))}, {{"dim", 0}}},
                   {"non-contiguous, dim 1", {noncontig(randn(g, {5, 4}))}, {{"dim", 1}}},
                   {"size-1 dim", {randn(g, {3, 1})}, {{"dim", 1}}},
                   {"0-dim", {randn(g, {})}, {{"dim", 0}}},
               };
             }});

}  // namespace
}  // namespace ssm::testing
