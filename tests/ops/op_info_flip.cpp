// OpInfo entries for ops/flip (PyTorch side: tools/fixtures/flip.py).
#include "ops/flip.h"
#include "ops/op_info.h"

namespace ssm::testing {
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
}  // namespace ssm::testing
