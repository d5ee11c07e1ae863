// OpInfo entries for ops/reduce (PyTorch side: tools/fixtures/reduce.py).
#include "ops/op_info.h"
#include "ops/reduce.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

std::vector<int64_t> dims_arg(const json& a) { return a.at("dims").get<std::vector<int64_t>>(); }

json args(std::vector<int64_t> dims, bool keepdim) {
  return {{"dims", dims}, {"keepdim", keepdim}};
}

// One dim, all dims, negative dim with keepdim, non-adjacent dims, non-contiguous input, a
// size-1 reduced dim and a 0-dim input. Normal values have no ties (max/min stay smooth).
std::vector<Sample> reduce_samples(Generator& g) {
  return {
      {"one dim", {randn(g, {3, 4})}, args({1}, false)},
      {"all dims", {randn(g, {3, 4})}, args({}, false)},
      {"negative dim, keepdim", {randn(g, {2, 3, 5})}, args({-1}, true)},
      {"non-adjacent dims", {randn(g, {2, 3, 4})}, args({0, 2}, false)},
      {"leading dim, keepdim", {randn(g, {4, 5})}, args({0}, true)},
      {"non-contiguous", {noncontig(randn(g, {4, 3}))}, args({0}, false)},
      {"non-contiguous, last dim", {noncontig(randn(g, {3, 5}))}, args({-1}, true)},
      {"size-1 dim", {randn(g, {3, 1, 4})}, args({1}, false)},
      {"0-dim", {randn(g, {})}, args({}, false)},
  };
}

#define REDUCE(NAME)                                                                        \
  SSM_OP_INFO({.name = #NAME,                                                               \
               .nodes = {OpId::NAME},                                                       \
               .run = [](const Tensors& in, const json& a) {                                \
                 return Tensors{NAME(in[0], dims_arg(a), a.at("keepdim").get<bool>())};     \
               },                                                                           \
               .samples = reduce_samples})

REDUCE(sum);
REDUCE(mean);
REDUCE(max);
REDUCE(min);
REDUCE(logsumexp);

SSM_OP_INFO({.name = "var",
             .nodes = {OpId::var},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{var(in[0], dims_arg(a), a.at("keepdim").get<bool>(),
                                  a.at("correction").get<double>())};
             },
             .samples = [](Generator& g) {
               auto with = [](json a, double c) {
                 a["correction"] = c;
                 return a;
               };
               return std::vector<Sample>{
                   {"unbiased, one dim", {randn(g, {3, 4})}, with(args({1}, false), 1.0)},
                   {"population, all dims", {randn(g, {3, 4})}, with(args({}, false), 0.0)},
                   {"non-adjacent dims, keepdim", {randn(g, {2, 3, 4})}, with(args({0, -1}, true), 1.0)},
                   {"non-contiguous", {noncontig(randn(g, {4, 3}))}, with(args({0}, false), 1.0)},
                   {"correction 2", {randn(g, {2, 6})}, with(args({1}, true), 2.0)},
               };
             }});

}  // namespace
}  // namespace ssm::testing
