// OpInfo entries for ops/index (PyTorch side: tools/fixtures/index.py). Indices hold repeats, so
// the backward sums of gather/index_select are exercised.
#include "ops/index.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

int64_t dim_arg(const json& a) { return a.at("dim").get<int64_t>(); }

Tensor indices(Generator& g, const Shape& shape, int64_t bound, DType dt = DType::i64) {
  return Tensor::randint(shape, 0, bound, dt, &g);
}

SSM_OP_INFO({.name = "gather",
             .nodes = {OpId::gather},
             .run = [](const Tensors& in, const json& a) { return Tensors{gather(in[0], dim_arg(a), in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0, index longer than x", {randn(g, {3, 4}), indices(g, {5, 4}, 3)}, {{"dim", 0}}},
                   {"index smaller than x", {randn(g, {3, 5}), indices(g, {2, 3}, 5)}, {{"dim", 1}}},
                   {"3-d, negative dim", {randn(g, {2, 3, 4}), indices(g, {2, 3, 6}, 4)}, {{"dim", -1}}},
                   {"non-contiguous, int32 index",
                    {noncontig(randn(g, {4, 3})), noncontig(indices(g, {4, 3}, 4, DType::i32))},
                    {{"dim", 0}}},
                   {"0-dim", {randn(g, {}), Tensor::scalar(0, DType::i64)}, {{"dim", 0}}},
               };
             }});

SSM_OP_INFO({.name = "index_select",
             .nodes = {OpId::index_select},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{index_select(in[0], dim_arg(a), in[1])};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0, repeats",
                    {randn(g, {4, 3}), Tensor::from_vector(std::vector<int64_t>{3, 0, 3, 1, 1}, {5})},
                    {{"dim", 0}}},
                   {"middle dim, int32 index",
                    {randn(g, {2, 5, 3}), Tensor::from_vector(std::vector<int32_t>{4, 0, 2, 4}, {4})},
                    {{"dim", 1}}},
                   {"non-contiguous x and index",
                    {noncontig(randn(g, {3, 4})), noncontig(indices(g, {6}, 4))}, {{"dim", -1}}},
                   {"0-dim index", {randn(g, {3, 4}), Tensor::scalar(2, DType::i64)}, {{"dim", 1}}},
               };
             }});

SSM_OP_INFO({.name = "scatter_add",
             .nodes = {OpId::scatter_add},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{scatter_add(in[0], dim_arg(a), in[1], in[2])};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0, collisions", {randn(g, {3, 4}), indices(g, {5, 4}, 3), randn(g, {5, 4})},
                    {{"dim", 0}}},
                   {"src larger than index",
                    {randn(g, {3, 5}), indices(g, {2, 3}, 5), randn(g, {4, 4})}, {{"dim", 1}}},
                   {"non-contiguous, int32 index, negative dim",
                    {noncontig(randn(g, {4, 3})), noncontig(indices(g, {4, 3}, 3, DType::i32)),
                     noncontig(randn(g, {4, 3}))},
                    {{"dim", -1}}},
                   {"0-dim", {randn(g, {}), Tensor::scalar(0, DType::i64), randn(g, {})}, {{"dim", 0}}},
               };
             }});

}  // namespace
}  // namespace ssm::testing
