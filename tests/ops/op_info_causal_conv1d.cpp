// OpInfo entry for ops/causal_conv1d (PyTorch side: tools/fixtures/causal_conv1d.py, which uses
// F.conv1d with groups = D and left padding W - 1).
#include "ops/causal_conv1d.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

Tensor starts(int64_t B, int64_t L, const std::vector<std::pair<int64_t, int64_t>>& at,
              DType dt = DType::i64) {
  std::vector<int64_t> v(size_t(B * L), 0);
  for (auto [b, t] : at) v[size_t(b * L + t)] = 1;
  return Tensor::from_vector(v, {B, L}).to(dt);
}

json args(bool bias, bool silu = false) {
  json a = {{"bias", bias}};
  if (silu) a["silu"] = true;
  return a;
}

SSM_OP_INFO({.name = "causal_conv1d",
             .nodes = {OpId::causal_conv1d},
             .run = [](const Tensors& in, const json& a) {
               Tensor b = a.at("bias").get<bool>() ? in[2] : Tensor();
               Tensor seq_start = in.size() > 3 ? in[3] : Tensor();
               return Tensors{causal_conv1d(in[0], in[1], b, a.value("silu", false), seq_start)};
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
                   // Packed rows (the 4th input is seq_start): starts at t = 1 and mid-row.
                   {"W 4, bias, packed",
                    {randn(g, {2, 9, 3}), randn(g, {3, 4}), randn(g, {3}),
                     starts(2, 9, {{0, 2}, {0, 5}, {1, 1}, {1, 6}})},
                    args(true)},
                   {"W 3, silu, packed",
                    {randn(g, {2, 8, 3}), randn(g, {3, 3}), randn(g, {3}),
                     starts(2, 8, {{0, 3}, {0, 4}, {1, 7}}, DType::i32)},
                    args(true, true)},
               };
             }});

}  // namespace
}  // namespace ssm::testing
