// OpInfo entry for ops/causal_conv1d (PyTorch side: tools/fixtures/causal_conv1d.py, which uses
// F.conv1d with groups = D and left padding W - 1).
#include "ops/causal_conv1d.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

json args(bool bias, bool silu = false) {
  json a = {{"bias", bias}};
  if (silu) a["silu"] = true;
  return a;
}

SSM_OP_INFO({.name = "causal_conv1d",
             .nodes = {OpId::causal_conv1d},
             .run = [](const Tensors& in, const json& a) {
               Tensor b = a.at("bias").get<bool>() ? in[2] : Tensor();
               return Tensors{causal_conv1d(in[0], in[1], b, a.value("silu", false))};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"W 4, bias", {randn(g, {2, 7, 3}), randn(g, {3, 4}), randn(g, {3})}, args(true)},
                   {"W 2, no bias", {randn(g, {1, 5, 4}), randn(g, {4, 2})}, args(false)},
                   {"L shorter than W", {randn(g, {2, 3, 2}), randn(g, {2, 5}), randn(g, {2})}, args(true)},
                   {"non-contiguous x", {noncontig(randn(g, {2, 6, 3})), randn(g, {3, 3}), randn(g, {3})},
                    args(true)},
                   {"W 8", {randn(g, {1, 9, 5}), randn(g, {5, 8})}, args(false)},
                   {"W 4, bias, silu", {randn(g, {2, 7, 3}), randn(g, {3, 4}), randn(g, {3})},
                    args(true, true)},
                   {"W 3, silu, non-contiguous x", {noncontig(randn(g, {2, 6, 3})), randn(g, {3, 3})},
                    args(false, true)},
               };
             }});

}  // namespace
}  // namespace ssm::testing
