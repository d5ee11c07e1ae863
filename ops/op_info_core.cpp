// OpInfo entries for the core views, copies, casts and checkpoint (PyTorch side:
// tools/fixtures/core.py). They sit in ops/ rather than beside their code because core/ is below
// ops/ and the op table.
#include "ops/elementwise.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

Shape shape_arg(const json& a, const char* key) { return Shape(a.at(key).get<std::vector<int64_t>>()); }

SSM_OP_INFO({.name = "view",
             .nodes = {OpId::view},
             .run = [](const Tensors& in, const json& a) { return Tensors{in[0].reshape(shape_arg(a, "shape"))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"split dims", {randn(g, {6, 4})}, {{"shape", {2, 3, 2, 2}}}},
                   {"infer -1", {randn(g, {2, 3, 4})}, {{"shape", {-1, 4}}}},
                   // a transposed tensor cannot be viewed as (12,): reshape copies first
                   {"non-contiguous copies", {noncontig(randn(g, {3, 4}))}, {{"shape", {12}}}},
                   {"to 0-dim", {randn(g, {1, 1})}, {{"shape", json::array()}}},
               };
             }});

SSM_OP_INFO({.name = "flatten",
             .nodes = {OpId::view},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].flatten(a.at("start").get<int64_t>(), a.at("end").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"middle dims", {randn(g, {2, 3, 4, 2})}, {{"start", 1}, {"end", 2}}},
                   {"all, non-contiguous", {noncontig(randn(g, {3, 4}))}, {{"start", 0}, {"end", -1}}},
               };
             }});

SSM_OP_INFO({.name = "squeeze_unsqueeze",
             .nodes = {OpId::view},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].squeeze(a.at("squeeze").get<int64_t>()).unsqueeze(a.at("unsqueeze").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"contiguous", {randn(g, {3, 1, 4})}, {{"squeeze", 1}, {"unsqueeze", -1}}},
                   {"non-contiguous", {noncontig(randn(g, {4, 1})).unsqueeze(0).squeeze(0)},
                    {{"squeeze", -1}, {"unsqueeze", 0}}},
               };
             }});

SSM_OP_INFO({.name = "permute",
             .nodes = {OpId::permute},
             .run = [](const Tensors& in, const json& a) { return Tensors{in[0].permute(shape_arg(a, "dims"))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"3-d", {randn(g, {2, 3, 4})}, {{"dims", {2, 0, 1}}}},
                   {"negative dims, non-contiguous", {noncontig(randn(g, {3, 4}))}, {{"dims", {-1, 0}}}},
               };
             }});

SSM_OP_INFO({.name = "transpose",
             .nodes = {OpId::permute},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].transpose(a.at("dim0").get<int64_t>(), a.at("dim1").get<int64_t>()).contiguous()};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{{"inner dims", {randn(g, {2, 3, 4})}, {{"dim0", 1}, {"dim1", 2}}}};
             }});

SSM_OP_INFO({.name = "expand",
             .nodes = {OpId::expand},
             .run = [](const Tensors& in, const json& a) { return Tensors{in[0].expand(shape_arg(a, "shape"))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"size-1 dims", {randn(g, {3, 1})}, {{"shape", {3, 4}}}},
                   {"new leading dims", {randn(g, {1, 4})}, {{"shape", {2, 5, -1}}}},
                   {"non-contiguous", {noncontig(randn(g, {1, 3}))}, {{"shape", {2, 2, 3}}}},
               };
             }});

SSM_OP_INFO({.name = "narrow",
             .nodes = {OpId::narrow},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].narrow(a.at("dim").get<int64_t>(), a.at("start").get<int64_t>(),
                                           a.at("length").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"inner", {randn(g, {3, 5})}, {{"dim", 1}, {"start", 1}, {"length", 3}}},
                   {"outer, non-contiguous", {noncontig(randn(g, {4, 3}))}, {{"dim", 0}, {"start", 2}, {"length", 2}}},
               };
             }});

SSM_OP_INFO({.name = "slice",
             .nodes = {OpId::narrow},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].slice(a.at("dim").get<int64_t>(), a.at("start").get<int64_t>(),
                                          a.at("end").get<int64_t>(), a.at("step").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"step 2", {randn(g, {3, 7})}, {{"dim", 1}, {"start", 1}, {"end", 6}, {"step", 2}}},
                   {"negative bounds", {randn(g, {5, 2})}, {{"dim", 0}, {"start", -4}, {"end", -1}, {"step", 1}}},
               };
             }});

SSM_OP_INFO({.name = "select",
             .nodes = {OpId::narrow, OpId::view},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].select(a.at("dim").get<int64_t>(), a.at("index").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"middle dim", {randn(g, {2, 3, 4})}, {{"dim", 1}, {"index", 2}}},
                   {"negative index", {noncontig(randn(g, {4, 3}))}, {{"dim", -1}, {"index", -1}}},
               };
             }});

SSM_OP_INFO({.name = "clone",
             .nodes = {OpId::clone},
             .run = [](const Tensors& in, const json&) { return Tensors{in[0].clone()}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{{"contiguous", {randn(g, {3, 4})}},
                                          {"non-contiguous", {noncontig(randn(g, {3, 4}))}}};
             }});

// float64 -> float32 -> float64: the gradient is the identity, the values are rounded to float32,
// so the finite differences need a wide step and a matching tolerance.
SSM_OP_INFO({.name = "cast",
             .nodes = {OpId::cast},
             .run = [](const Tensors& in, const json&) { return Tensors{in[0].to(DType::f32).to(DType::f64)}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{{"f64-f32-f64", {randn(g, {3, 4})}},
                                          {"non-contiguous", {noncontig(randn(g, {3, 4}))}}};
             },
             .grad = {.eps = 1e-3, .atol = 1e-3, .rtol = 1e-3},
             .lowp = false});

// Complex views: (..., 2) real pairs -> complex -> pick a row -> back to real pairs.
SSM_OP_INFO({.name = "view_as_complex",
             .nodes = {OpId::view_as_complex, OpId::narrow, OpId::view_as_real},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{in[0].view_as_complex().select(0, a.at("row").get<int64_t>()).view_as_real()};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{{"select a row", {randn(g, {3, 4, 2})}, {{"row", 1}}}};
             },
             .lowp = false});

SSM_OP_INFO({.name = "view_as_real",
             .nodes = {OpId::view_as_complex, OpId::view_as_real},
             .run = [](const Tensors& in, const json&) { return Tensors{in[0].view_as_complex().view_as_real()}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{{"round trip", {randn(g, {2, 3, 2})}}};
             },
             .lowp = false});

// A recomputed segment: y = tanh(x * w) + x, taken through checkpoint().
SSM_OP_INFO({.name = "checkpoint",
             .nodes = {OpId::checkpoint},
             .run = [](const Tensors& in, const json&) {
               return checkpoint([](const Tensors& s) { return Tensors{add(tanh(mul(s[0], s[1])), s[0])}; },
                                 {in[0], in[1]});
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{{"two inputs", {randn(g, {3, 4}), randn(g, {4})}},
                                          {"non-contiguous", {noncontig(randn(g, {4, 3})), randn(g, {3})}}};
             }});

}  // namespace
}  // namespace ssm::testing
