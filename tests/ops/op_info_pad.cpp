// OpInfo entries for ops/pad (PyTorch side: tools/fixtures/pad.py). Reflect/replicate shapes
// carry the leading dims PyTorch demands, so the fixtures can be made.
#include "ops/op_info.h"
#include "ops/pad.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "pad",
             .nodes = {OpId::pad},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{pad(in[0], a.at("pads").get<std::vector<int64_t>>(),
                                  pad_mode(a.at("mode").get<std::string>()), a.at("value").get<double>())};
             },
             .samples = [](Generator& g) {
               auto args = [](std::vector<int64_t> pads, const char* mode, double value) {
                 return json{{"pads", pads}, {"mode", mode}, {"value", value}};
               };
               return std::vector<Sample>{
                   {"constant, last dim", {randn(g, {2, 3})}, args({1, 2}, "constant", 0.5)},
                   {"constant, crop and pad", {randn(g, {3, 4, 5})}, args({-1, 2, 1, -2}, "constant", 0.0)},
                   {"constant, all dims, non-contiguous", {noncontig(randn(g, {4, 3}))},
                    args({1, 1, 2, 0}, "constant", -1.0)},
                   {"constant, crop a dim away", {randn(g, {2, 3})}, args({-2, -1}, "constant", 0.0)},
                   {"constant, 0-dim", {randn(g, {})}, args({}, "constant", 0.0)},
                   {"reflect, last dim", {randn(g, {2, 3, 5})}, args({2, 4}, "reflect", 0.0)},
                   {"reflect, 2 dims, non-contiguous", {noncontig(randn(g, {2, 4, 5}))},
                    args({1, 2, 3, 1}, "reflect", 0.0)},
                   {"reflect, 3 dims, crop", {randn(g, {1, 2, 3, 4, 5})},
                    args({2, -1, 1, 1, 2, 0}, "reflect", 0.0)},
                   {"replicate, wider than x", {randn(g, {2, 3, 2})}, args({3, 4}, "replicate", 0.0)},
                   {"replicate, 2 dims, crop", {randn(g, {2, 3, 4})}, args({-1, 2, 2, 1}, "replicate", 0.0)},
                   {"replicate, 3 dims, non-contiguous", {noncontig(randn(g, {1, 2, 2, 3}))},
                    args({1, 1, 1, 0, 0, 2}, "replicate", 0.0)},
               };
             }});

}  // namespace
}  // namespace ssm::testing
