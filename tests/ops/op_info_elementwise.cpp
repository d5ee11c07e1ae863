// OpInfo entries for ops/elementwise (PyTorch side: tools/fixtures/elementwise.py).
#include "ops/elementwise.h"
#include "ops/op_info.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

// Contiguous, non-contiguous, 0-dim and an odd-sized 3-D case for a unary op on `make(shape)`.
std::function<std::vector<Sample>(Generator&)> unary_samples(
    std::function<Tensor(Generator&, const Shape&)> make, json args = json::object()) {
  return [make, args](Generator& g) {
    return std::vector<Sample>{
        {"contiguous", {make(g, {3, 4})}, args},
        {"non-contiguous", {noncontig(make(g, {4, 3}))}, args},
        {"0-dim", {make(g, {})}, args},
        {"3-d odd", {make(g, {2, 3, 5})}, args},
    };
  };
}

Tensor normal(Generator& g, const Shape& s) { return randn(g, s); }
Tensor positive(Generator& g, const Shape& s) { return uniform(g, s, 0.5, 2.0); }
Tensor nonzero(Generator& g, const Shape& s) { return away_from_zero(g, s, 0.1); }

// Values in [-2, 2] at least `gap` away from every point in `kinks`.
Tensor away_from(Generator& g, const Shape& s, std::vector<double> kinks, double gap) {
  auto v = uniform(g, s, -2.0, 2.0).to_vector<double>();
  for (double& x : v)
    for (double k : kinks)
      if (std::fabs(x - k) < gap) x = x < k ? k - gap : k + gap;
  return Tensor::from_vector(v, s);
}

#define UNARY(NAME, MAKE, CALL)                                                          \
  SSM_OP_INFO({.name = #NAME,                                                            \
               .nodes = {OpId::NAME},                                                    \
               .run = [](const Tensors& in, const json& a) { (void)a; return Tensors{CALL}; }, \
               .samples = unary_samples(MAKE)})

UNARY(neg, normal, neg(in[0]));
UNARY(exp, normal, exp(in[0]));
UNARY(log, positive, log(in[0]));
UNARY(sqrt, positive, sqrt(in[0]));
UNARY(rsqrt, positive, rsqrt(in[0]));
UNARY(abs, nonzero, abs(in[0]));
UNARY(tanh, normal, tanh(in[0]));
UNARY(sigmoid, normal, sigmoid(in[0]));
UNARY(silu, normal, silu(in[0]));
UNARY(relu, nonzero, relu(in[0]));

SSM_OP_INFO({.name = "pow",
             .nodes = {OpId::pow},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{pow(in[0], a.at("exponent").get<double>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"fractional exponent", {positive(g, {3, 4})}, {{"exponent", 2.5}}},
                   {"negative exponent", {noncontig(positive(g, {4, 3}))}, {{"exponent", -1.5}}},
                   {"integer exponent, negative base", {normal(g, {2, 5})}, {{"exponent", 3.0}}},
               };
             }});

SSM_OP_INFO({.name = "gelu",
             .nodes = {OpId::gelu},
             .run = [](const Tensors& in, const json& a) {
               auto approx = a.at("approximate").get<std::string>() == "tanh" ? GeluApprox::tanh
                                                                              : GeluApprox::none;
               return Tensors{gelu(in[0], approx)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"erf", {normal(g, {3, 4})}, {{"approximate", "none"}}},
                   {"tanh", {normal(g, {3, 4})}, {{"approximate", "tanh"}}},
                   {"erf non-contiguous", {noncontig(normal(g, {4, 3}))}, {{"approximate", "none"}}},
               };
             }});

SSM_OP_INFO({.name = "softplus",
             .nodes = {OpId::softplus},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{softplus(in[0], a.at("beta").get<double>(),
                                       a.at("threshold").get<double>())};
             },
             .samples = [](Generator& g) {
               // beta 2, threshold 3: inputs in [-2, 2] cross the linear region at x > 1.5;
               // keep them away from that switch point.
               return std::vector<Sample>{
                   {"default", {normal(g, {3, 4})}, {{"beta", 1.0}, {"threshold", 20.0}}},
                   {"beta and threshold", {away_from(g, {4, 5}, {1.5}, 0.05)},
                    {{"beta", 2.0}, {"threshold", 3.0}}},
               };
             }});

SSM_OP_INFO({.name = "clamp",
             .nodes = {OpId::clamp},
             .run = [](const Tensors& in, const json& a) {
               std::optional<double> lo, hi;
               if (!a.at("min").is_null()) lo = a.at("min").get<double>();
               if (!a.at("max").is_null()) hi = a.at("max").get<double>();
               return Tensors{clamp(in[0], lo, hi)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"min and max", {away_from(g, {3, 4}, {-0.5, 0.7}, 0.05)},
                    {{"min", -0.5}, {"max", 0.7}}},
                   {"min only", {noncontig(away_from(g, {4, 3}, {0.2}, 0.05))},
                    {{"min", 0.2}, {"max", nullptr}}},
                   {"max only", {away_from(g, {5}, {-0.1}, 0.05)}, {{"min", nullptr}, {"max", -0.1}}},
               };
             }});

// Binary samples: same shape, broadcast both ways, non-contiguous, 0-dim operand.
std::function<std::vector<Sample>(Generator&)> binary_samples(
    std::function<Tensor(Generator&, const Shape&)> make_a,
    std::function<Tensor(Generator&, const Shape&)> make_b) {
  return [make_a, make_b](Generator& g) {
    return std::vector<Sample>{
        {"same shape", {make_a(g, {3, 4}), make_b(g, {3, 4})}},
        {"broadcast", {make_a(g, {3, 1, 4}), make_b(g, {2, 4})}},
        {"broadcast size-1", {make_a(g, {3, 4}), make_b(g, {3, 1})}},
        {"non-contiguous", {noncontig(make_a(g, {4, 3})), noncontig(make_b(g, {4, 3}))}},
        {"0-dim operand", {make_a(g, {2, 3}), make_b(g, {})}},
    };
  };
}

#define BINARY(NAME, NODE, MA, MB, CALL)                                               \
  SSM_OP_INFO({.name = NAME,                                                           \
               .nodes = {OpId::NODE},                                                  \
               .run = [](const Tensors& in, const json&) { return Tensors{CALL}; },    \
               .samples = binary_samples(MA, MB)})

BINARY("add", add, normal, normal, add(in[0], in[1]));
BINARY("sub", sub, normal, normal, sub(in[0], in[1]));
BINARY("mul", mul, normal, normal, mul(in[0], in[1]));
BINARY("div", div, normal, nonzero, div(in[0], in[1]));
BINARY("pow_tensor", pow_tensor, positive, normal, pow(in[0], in[1]));

SSM_OP_INFO({.name = "where",
             .nodes = {OpId::where},
             .run = [](const Tensors& in, const json&) { return Tensors{where(in[0], in[1], in[2])}; },
             .samples = [](Generator& g) {
               auto mask = [&](const Shape& s) { return gt(normal(g, s), Tensor::scalar(0.0, DType::f64)); };
               return std::vector<Sample>{
                   {"same shape", {mask({3, 4}), normal(g, {3, 4}), normal(g, {3, 4})}},
                   {"broadcast", {mask({3, 1}), normal(g, {1, 4}), normal(g, {3, 4})}},
                   {"non-contiguous", {mask({4, 3}), noncontig(normal(g, {4, 3})), normal(g, {3})}},
               };
             }});

}  // namespace
}  // namespace ssm::testing
