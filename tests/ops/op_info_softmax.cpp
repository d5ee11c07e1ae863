// OpInfo entries for ops/softmax (PyTorch side: tools/fixtures/softmax.py).
#include "ops/op_info.h"
#include "ops/softmax.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

// Last dim (rows), first and middle dims (tiles over the trailing dims, one of them partial),
// non-contiguous, large logits that overflow exp() without the max subtraction, and 0-dim.
std::vector<Sample> softmax_samples(Generator& g) {
  return {
      {"last dim", {randn(g, {3, 5})}, {{"dim", -1}}},
      {"first dim", {randn(g, {4, 3})}, {{"dim", 0}}},
      {"middle dim", {randn(g, {2, 3, 4})}, {{"dim", 1}}},
      {"middle dim, more than one tile", {randn(g, {2, 3, 70})}, {{"dim", 1}}},
      {"non-contiguous", {noncontig(randn(g, {4, 3}))}, {{"dim", -1}}},
      {"non-contiguous, dim 0", {noncontig(randn(g, {3, 4}))}, {{"dim", 0}}},
      {"large logits", {uniform(g, {3, 4}, 90.0, 100.0)}, {{"dim", 1}}},
      {"0-dim", {randn(g, {})}, {{"dim", 0}}},
  };
}

SSM_OP_INFO({.name = "softmax",
             .nodes = {OpId::softmax},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{softmax(in[0], a.at("dim").get<int64_t>())};
             },
             .samples = softmax_samples});

SSM_OP_INFO({.name = "log_softmax",
             .nodes = {OpId::log_softmax},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{log_softmax(in[0], a.at("dim").get<int64_t>())};
             },
             .samples = softmax_samples});

}  // namespace
}  // namespace ssm::testing
