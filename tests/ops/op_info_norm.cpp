// OpInfo entries for ops/norm (PyTorch side: tools/fixtures/norm.py). weight, bias and
// add_rms_norm's / add_layer_norm's residual are optional: args say which are present, and the
// present ones follow x in the inputs.
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

// The inputs of the fused add + norm ops after x, as the args say which are present (bias only
// where the args have the key), and cast as the model casts them: with residual_in_fp32 the
// residual stream is float32 (as a previous layer returned it), and with `param_fp32_key` set the
// weight (and bias) are float32 master weights, as under autocast. Casting the sample's inputs (a
// no-op in float64) makes the bf16 / f16 runs take the mixed-dtype paths the model takes.
struct FusedNormInputs {
  Tensor res, w, b;
  bool fp32;
};
FusedNormInputs fused_norm_inputs(const Tensors& in, const json& a, const char* param_fp32_key) {
  size_t k = 1;
  FusedNormInputs f;
  f.res = a.at("residual").get<bool>() ? in[k++] : Tensor();
  f.w = a.at("weight").get<bool>() ? in[k++] : Tensor();
  f.b = a.contains("bias") && a.at("bias").get<bool>() ? in[k++] : Tensor();
  f.fp32 = a.at("residual_in_fp32").get<bool>();
  DType wide = compute_dtype(in[0].dtype());
  if (f.fp32 && f.res.defined()) f.res = f.res.to(wide);
  if (a.at(param_fp32_key).get<bool>()) {
    if (f.w.defined()) f.w = f.w.to(wide);
    if (f.b.defined()) f.b = f.b.to(wide);
  }
  return f;
}

// Output 1 (r) is the float32 stream under residual_in_fp32; the rest keep the input's dtype.
DType fused_norm_out_dtype(DType dt, size_t k, const json& a) {
  return k == 1 && a.at("residual_in_fp32").get<bool>() ? compute_dtype(dt) : dt;
}

json add_rms_args(bool residual, bool weight, bool fp32, bool weight_fp32 = false,
                  double eps = 1e-6) {
  return {{"residual", residual}, {"weight", weight}, {"residual_in_fp32", fp32},
          {"weight_fp32", weight_fp32}, {"eps", eps}};
}

// Both outputs, y and r, are returned, so the checks send gradients into both.
SSM_OP_INFO({.name = "add_rms_norm",
             .nodes = {OpId::add_rms_norm},
             .run = [](const Tensors& in, const json& a) {
               FusedNormInputs f = fused_norm_inputs(in, a, "weight_fp32");
               auto [y, r] = add_rms_norm(in[0], f.res, f.w, a.at("eps").get<double>(), f.fp32);
               return Tensors{y, r};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"residual and weight", {randn(g, {3, 8}), randn(g, {3, 8}), randn(g, {8})},
                    add_rms_args(true, true, false)},
                   {"residual_in_fp32, float32 weight",
                    {randn(g, {2, 3, 8}), randn(g, {2, 3, 8}), randn(g, {8})},
                    add_rms_args(true, true, true, true)},
                   {"first layer: no residual, residual_in_fp32", {randn(g, {4, 6}), randn(g, {6})},
                    add_rms_args(false, true, true)},
                   {"no residual, no weight", {randn(g, {2, 5})}, add_rms_args(false, false, false)},
                   {"non-contiguous x and residual",
                    {noncontig(randn(g, {4, 6})), noncontig(randn(g, {4, 6})), randn(g, {6})},
                    add_rms_args(true, true, true)},
                   {"1-d, eps 1e-3", {randn(g, {6}), randn(g, {6}), randn(g, {6})},
                    add_rms_args(true, true, false, false, 1e-3)},
                   {"odd D with lanes and tail", {randn(g, {2, 37}), randn(g, {2, 37}), randn(g, {37})},
                    add_rms_args(true, true, true, true)},
                   // residual_in_fp32 here: a 16-bit r would add a rounding per row to the
                   // weight gradient that the float64 reference does not have (70 rows of it).
                   {"more rows than weight-gradient blocks",
                    {randn(g, {70, 3}), randn(g, {70, 3}), randn(g, {3})},
                    add_rms_args(true, true, true)},
               };
             },
             .lowp_out_dtype = fused_norm_out_dtype});

json add_ln_args(bool residual, bool weight, bool bias, bool fp32, bool param_fp32 = false,
                 double eps = 1e-5) {
  return {{"residual", residual}, {"weight", weight}, {"bias", bias}, {"residual_in_fp32", fp32},
          {"param_fp32", param_fp32}, {"eps", eps}};
}

// As add_rms_norm, with a layer norm and an optional bias (a pre-norm Transformer block's add +
// LayerNorm); param_fp32 makes the 16-bit runs use float32 weight and bias.
SSM_OP_INFO({.name = "add_layer_norm",
             .nodes = {OpId::add_layer_norm},
             .run = [](const Tensors& in, const json& a) {
               FusedNormInputs f = fused_norm_inputs(in, a, "param_fp32");
               auto [y, r] = add_layer_norm(in[0], f.res, f.w, f.b, a.at("eps").get<double>(), f.fp32);
               return Tensors{y, r};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"residual, weight and bias",
                    {randn(g, {3, 8}), randn(g, {3, 8}), randn(g, {8}), randn(g, {8})},
                    add_ln_args(true, true, true, false)},
                   {"residual_in_fp32, float32 weight and bias",
                    {randn(g, {2, 3, 8}), randn(g, {2, 3, 8}), randn(g, {8}), randn(g, {8})},
                    add_ln_args(true, true, true, true, true)},
                   {"first layer: no residual, no bias", {randn(g, {4, 6}), randn(g, {6})},
                    add_ln_args(false, true, false, true)},
                   {"no residual, no affine", {randn(g, {2, 5})}, add_ln_args(false, false, false, false)},
                   {"bias only, non-contiguous x and residual",
                    {noncontig(randn(g, {4, 6})), noncontig(randn(g, {4, 6})), randn(g, {6})},
                    add_ln_args(true, false, true, true)},
                   {"1-d, eps 1e-3", {randn(g, {6}), randn(g, {6}), randn(g, {6}), randn(g, {6})},
                    add_ln_args(true, true, true, false, false, 1e-3)},
                   {"D of 16 (warp-per-row kernels on CUDA)",
                    {randn(g, {3, 16}), randn(g, {3, 16}), randn(g, {16}), randn(g, {16})},
                    add_ln_args(true, true, true, true, true)},
                   {"odd D with lanes and tail",
                    {randn(g, {2, 37}), randn(g, {2, 37}), randn(g, {37}), randn(g, {37})},
                    add_ln_args(true, true, true, true, true)},
                   {"more rows than weight-gradient blocks",
                    {randn(g, {70, 3}), randn(g, {70, 3}), randn(g, {3}), randn(g, {3})},
                    add_ln_args(true, true, true, true)},
               };
             },
             .lowp_out_dtype = fused_norm_out_dtype});

}  // namespace
}  // namespace ssm::testing
