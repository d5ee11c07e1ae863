// OpInfo entries for ops/norm (PyTorch side: tools/fixtures/norm.py). weight and bias are
// optional: args say which are present, and the present ones follow x in the inputs.
#include "ops/norm.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

json ln_args(bool weight, bool bias, double eps = 1e-5) {
  return {{"weight", weight}, {"bias", bias}, {"eps", eps}};
}

SSM_OP_INFO({.name = "layer_norm",
             .nodes = {OpId::layer_norm},
             .run = [](const Tensors& in, const json& a) {
               size_t k = 1;
               Tensor w = a.at("weight").get<bool>() ? in[k++] : Tensor();
               Tensor b = a.at("bias").get<bool>() ? in[k++] : Tensor();
               return Tensors{layer_norm(in[0], w, b, a.at("eps").get<double>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"weight and bias", {randn(g, {3, 8}), randn(g, {8}), randn(g, {8})}, ln_args(true, true)},
                   {"3-d, no affine", {randn(g, {2, 3, 5})}, ln_args(false, false)},
                   {"weight only, non-contiguous", {noncontig(randn(g, {4, 6})), randn(g, {6})},
                    ln_args(true, false)},
                   {"bias only, eps 1e-3", {randn(g, {5, 7}), randn(g, {7})}, ln_args(false, true, 1e-3)},
                   {"1-d", {randn(g, {6}), randn(g, {6}), randn(g, {6})}, ln_args(true, true)},
                   {"odd D with lanes and tail", {randn(g, {2, 19}), randn(g, {19}), randn(g, {19})},
                    ln_args(true, true)},
               };
             }});

json rms_args(bool weight, double eps = 1e-6) { return {{"weight", weight}, {"eps", eps}}; }

SSM_OP_INFO({.name = "rms_norm",
             .nodes = {OpId::rms_norm},
             .run = [](const Tensors& in, const json& a) {
               Tensor w = a.at("weight").get<bool>() ? in[1] : Tensor();
               return Tensors{rms_norm(in[0], w, a.at("eps").get<double>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"weight", {randn(g, {3, 8}), randn(g, {8})}, rms_args(true)},
                   {"3-d, no weight", {randn(g, {2, 3, 5})}, rms_args(false)},
                   {"non-contiguous", {noncontig(randn(g, {4, 6})), randn(g, {6})}, rms_args(true)},
                   {"1-d, eps 1e-3", {randn(g, {6}), randn(g, {6})}, rms_args(true, 1e-3)},
                   {"odd D with lanes and tail", {randn(g, {2, 19}), randn(g, {19})}, rms_args(true)},
               };
             }});

}  // namespace
}  // namespace ssm::testing
