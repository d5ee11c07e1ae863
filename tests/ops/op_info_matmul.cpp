// OpInfo entries for ops/matmul (PyTorch side: tools/fixtures/matmul.py). The layout cases
// (transposed operands go to BLAS as CblasTrans, strided ones are copied) exist only here:
// the fixtures store contiguous inputs.
#include "ops/matmul.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

// A (rows, cols) view with strides (2 cols, 2): neither row-major nor transposed, so copied.
Tensor strided(Generator& g, int64_t rows, int64_t cols) {
  return randn(g, {rows, 2 * cols}).slice(1, 0, 2 * cols, 2);
}

SSM_OP_INFO({.name = "matmul",
             .nodes = {OpId::matmul},
             .run = [](const Tensors& in, const json&) { return Tensors{matmul(in[0], in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"2-d", {randn(g, {3, 4}), randn(g, {4, 5})}},
                   {"dot", {randn(g, {4}), randn(g, {4})}},
                   {"matrix-vector", {randn(g, {3, 4}), randn(g, {4})}},
                   {"vector-matrix", {randn(g, {4}), randn(g, {4, 5})}},
                   {"batch broadcast", {randn(g, {2, 1, 3, 4}), randn(g, {5, 4, 2})}},
                   {"batched @ 2-d", {randn(g, {2, 3, 4}), randn(g, {4, 5})}},
                   {"2-d @ batched", {randn(g, {3, 4}), randn(g, {2, 4, 5})}},
                   {"vector @ batched", {randn(g, {4}), randn(g, {2, 4, 3})}},
                   {"batched @ vector", {randn(g, {2, 3, 4}), randn(g, {4})}},
                   {"size-1 batch broadcast", {randn(g, {1, 3, 4}), randn(g, {3, 4, 2})}},
                   {"transposed operands", {noncontig(randn(g, {3, 4})), noncontig(randn(g, {2, 4, 5}))}},
                   {"strided operands", {strided(g, 3, 4), strided(g, 4, 2)}},
                   {"1 x 1 result", {randn(g, {1, 5}), randn(g, {5, 1})}},
               };
             }});

SSM_OP_INFO({.name = "bmm",
             .nodes = {OpId::matmul},
             .run = [](const Tensors& in, const json&) { return Tensors{bmm(in[0], in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"contiguous", {randn(g, {2, 3, 4}), randn(g, {2, 4, 5})}},
                   {"transposed", {noncontig(randn(g, {3, 2, 4})), noncontig(randn(g, {3, 4, 3}))}},
               };
             }});

SSM_OP_INFO({.name = "linear",
             .nodes = {OpId::linear},
             .run = [](const Tensors& in, const json&) {
               return Tensors{in.size() > 2 ? linear(in[0], in[1], in[2]) : linear(in[0], in[1])};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"3-d input, bias", {randn(g, {2, 3, 4}), randn(g, {5, 4}), randn(g, {5})}},
                   {"2-d, no bias", {randn(g, {3, 4}), randn(g, {5, 4})}},
                   {"1-d input", {randn(g, {4}), randn(g, {3, 4}), randn(g, {3})}},
                   {"transposed input and weight",
                    {noncontig(randn(g, {5, 4})), noncontig(randn(g, {3, 4})), randn(g, {3})}},
                   {"3-d input that cannot be flattened in place",
                    {noncontig(randn(g, {2, 3, 4})), randn(g, {2, 4})}},
               };
             }});

}  // namespace
}  // namespace ssm::testing
