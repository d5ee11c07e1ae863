// OpInfo entry for ops/dropout (PyTorch side: tools/fixtures/dropout.py, which rebuilds our mask
// with its own Philox4x32-10 in pure Python). Each run makes a fresh Generator from the seed in
// args, so every call (gradcheck evaluates many) draws the same mask.
#include "ops/dropout.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

json args(double p, uint64_t seed) { return {{"p", p}, {"seed", seed}}; }

SSM_OP_INFO({.name = "dropout",
             .nodes = {OpId::dropout},
             .run = [](const Tensors& in, const json& a) {
               Generator gen(a.at("seed").get<uint64_t>());
               return Tensors{dropout(in[0], a.at("p").get<double>(), true, &gen)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"p 0.3", {randn(g, {4, 5})}, args(0.3, 1)},
                   {"p 0.5, non-contiguous", {noncontig(randn(g, {6, 5}))}, args(0.5, 2)},
                   {"odd size, large seed", {randn(g, {3, 7})}, args(0.2, 0x123456789abcdefULL)},
                   {"p 1 drops everything", {randn(g, {3, 2})}, args(1.0, 4)},
               };
             }});

}  // namespace
}  // namespace ssm::testing
