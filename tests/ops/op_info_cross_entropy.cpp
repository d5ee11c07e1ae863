// OpInfo entries for ops/cross_entropy (PyTorch side: tools/fixtures/cross_entropy.py). The
// target is an integer input: only the logits are gradient-checked.
#include "ops/cross_entropy.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

Reduction reduction_arg(const std::string& s) {
  if (s == "none") return Reduction::none;
  if (s == "sum") return Reduction::sum;
  return Reduction::mean;
}

json args(const char* reduction, int64_t ignore_index = -100, double label_smoothing = 0.0) {
  return {{"reduction", reduction}, {"ignore_index", ignore_index},
          {"label_smoothing", label_smoothing}};
}

Tensor targets(std::vector<int64_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

SSM_OP_INFO({.name = "cross_entropy",
             .nodes = {OpId::cross_entropy},
             .run = [](const Tensors& in, const json& a) {
               CrossEntropyOptions o;
               o.ignore_index = a.at("ignore_index").get<int64_t>();
               o.label_smoothing = a.at("label_smoothing").get<double>();
               o.reduction = reduction_arg(a.at("reduction").get<std::string>());
               return Tensors{cross_entropy(in[0], in[1], o)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"(N, C) mean", {randn(g, {5, 4}), targets({3, 0, 1, 3, 2}, {5})}, args("mean")},
                   {"ignore_index hits", {randn(g, {6, 3}), targets({2, -100, 0, 1, -100, 1}, {6})},
                    args("mean")},
                   {"ignore_index inside [0, C)", {randn(g, {5, 4}), targets({1, 0, 1, 3, 2}, {5})},
                    args("mean", 1)},
                   {"label smoothing", {randn(g, {4, 5}), targets({4, 0, -100, 2}, {4})},
                    args("mean", -100, 0.2)},
                   {"reduction none", {randn(g, {5, 4}), targets({0, -100, 3, 1, 2}, {5})},
                    args("none")},
                   {"reduction sum, smoothing", {randn(g, {5, 4}), targets({0, 2, 3, 1, -100}, {5})},
                    args("sum", -100, 0.1)},
                   {"(N, C, L) spatial", {randn(g, {2, 4, 3}), targets({0, 3, 1, 2, -100, 3}, {2, 3})},
                    args("mean", -100, 0.1)},
                   {"(N, C, L) none", {randn(g, {2, 3, 4}), targets({0, 2, 1, 2, 1, 0, 0, 2}, {2, 4})},
                    args("none")},
                   {"non-contiguous logits", {noncontig(randn(g, {5, 4})), targets({1, 3, 0, 0, 2}, {5})},
                    args("mean")},
                   {"unbatched (C)", {randn(g, {6}), targets({4}, {})}, args("mean")},
                   {"int32 target", {randn(g, {3, 4}), targets({2, 0, 3}, {3}).to(DType::i32)},
                    args("sum")},
               };
             }});

}  // namespace
}  // namespace ssm::testing
