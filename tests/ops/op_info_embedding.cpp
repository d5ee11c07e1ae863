// OpInfo entry for ops/embedding (PyTorch side: tools/fixtures/embedding.py). The ids are an
// integer input: only the weight is gradient-checked.
#include "ops/embedding.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

Tensor ids(std::vector<int64_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

json pad(std::optional<int64_t> p) { return {{"padding_idx", p ? json(*p) : json(nullptr)}}; }

SSM_OP_INFO({.name = "embedding",
             .nodes = {OpId::embedding},
             .run = [](const Tensors& in, const json& a) {
               std::optional<int64_t> p;
               if (!a.at("padding_idx").is_null()) p = a.at("padding_idx").get<int64_t>();
               return Tensors{embedding(in[0], in[1], p)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"2-d ids, repeats", {randn(g, {7, 4}), ids({1, 3, 1, 6, 0, 3}, {2, 3})}, pad({})},
                   // The padding row is looked up but gets no gradient (PyTorch's rule), so
                   // finite differences disagree by design where ids hit it: these samples set
                   // padding_idx without hitting it; the PyTorch fixture and embedding_test
                   // cover the hits.
                   {"padding_idx", {randn(g, {5, 3}), ids({3, 4, 3, 0, 1}, {5})}, pad(2)},
                   {"negative padding_idx", {randn(g, {5, 3}), ids({2, 1, 2, 3}, {2, 2})}, pad(-1)},
                   {"0-dim id", {randn(g, {4, 5}), ids({2}, {})}, pad({})},
                   {"int32 ids", {randn(g, {6, 2}), ids({5, 0, 5, 2}, {4}).to(DType::i32)}, pad({})},
                   {"non-contiguous weight", {noncontig(randn(g, {6, 3})), ids({0, 5, 2, 2}, {2, 2})},
                    pad({})},
               };
             }});

}  // namespace
}  // namespace ssm::testing
