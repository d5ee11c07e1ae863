// OpInfo entries for ops/join (PyTorch side: tools/fixtures/join.py).
#include "ops/join.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

int64_t dim_arg(const json& a) { return a.at("dim").get<int64_t>(); }

// Keeps only the outputs listed in args["keep"] (all when absent): the others get no gradient.
Tensors keep(const Tensors& outs, const json& a) {
  if (!a.contains("keep")) return outs;
  Tensors kept;
  for (int64_t i : a.at("keep").get<std::vector<int64_t>>()) kept.push_back(outs[size_t(i)]);
  return kept;
}

SSM_OP_INFO({.name = "cat",
             .nodes = {OpId::cat},
             .run = [](const Tensors& in, const json& a) { return Tensors{cat(in, dim_arg(a))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0", {randn(g, {2, 3}), randn(g, {4, 3})}, {{"dim", 0}}},
                   {"three tensors, negative dim",
                    {randn(g, {2, 3, 1}), randn(g, {2, 3, 4}), randn(g, {2, 3, 2})}, {{"dim", -1}}},
                   {"non-contiguous", {noncontig(randn(g, {3, 4})), randn(g, {3, 2})}, {{"dim", 1}}},
                   {"empty piece", {randn(g, {2, 3}), randn(g, {0, 3}), randn(g, {1, 3})}, {{"dim", 0}}},
                   {"single tensor", {randn(g, {5})}, {{"dim", 0}}},
               };
             }});

SSM_OP_INFO({.name = "stack",
             .nodes = {OpId::cat, OpId::view},
             .run = [](const Tensors& in, const json& a) { return Tensors{stack(in, dim_arg(a))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"new leading dim", {randn(g, {2, 3}), randn(g, {2, 3}), randn(g, {2, 3})}, {{"dim", 0}}},
                   {"new last dim, non-contiguous", {noncontig(randn(g, {3, 4})), randn(g, {3, 4})},
                    {{"dim", -1}}},
                   {"middle dim", {randn(g, {2, 5}), randn(g, {2, 5})}, {{"dim", 1}}},
                   {"0-dim tensors", {randn(g, {}), randn(g, {}), randn(g, {})}, {{"dim", 0}}},
               };
             }});

SSM_OP_INFO({.name = "split",
             .nodes = {OpId::split},
             .run = [](const Tensors& in, const json& a) {
               const json& s = a.at("split");
               Tensors outs = s.is_array() ? split(in[0], s.get<std::vector<int64_t>>(), dim_arg(a))
                                           : split(in[0], s.get<int64_t>(), dim_arg(a));
               return keep(outs, a);
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"even", {randn(g, {6, 4})}, {{"split", 2}, {"dim", 0}}},
                   {"uneven, negative dim", {randn(g, {3, 7})}, {{"split", 3}, {"dim", -1}}},
                   {"sizes with an empty piece", {randn(g, {5, 3})},
                    {{"split", {1, 0, 4}}, {"dim", 0}}},
                   {"non-contiguous", {noncontig(randn(g, {4, 6}))}, {{"split", {2, 4}}, {"dim", 1}}},
                   {"unused pieces get zeros", {randn(g, {6, 2})},
                    {{"split", 2}, {"dim", 0}, {"keep", {0, 2}}}},
               };
             }});

SSM_OP_INFO({.name = "chunk",
             .nodes = {OpId::split},
             .run = [](const Tensors& in, const json& a) {
               return chunk(in[0], a.at("chunks").get<int64_t>(), dim_arg(a));
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"uneven", {randn(g, {7, 3})}, {{"chunks", 3}, {"dim", 0}}},
                   {"fewer pieces than chunks", {randn(g, {3, 6})}, {{"chunks", 4}, {"dim", 1}}},
                   {"non-contiguous, negative dim", {noncontig(randn(g, {4, 5}))},
                    {{"chunks", 2}, {"dim", -2}}},
               };
             }});

}  // namespace
}  // namespace ssm::testing
