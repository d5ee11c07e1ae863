// OpInfo entries for ops/selective_scan (PyTorch side: tools/fixtures/selective_scan.py, a
// plain loop over time).
#include "ops/elementwise.h"
#include "ops/op_info.h"
#include "ops/selective_scan.h"

namespace ssm::testing {
namespace {

using Tensors = std::vector<Tensor>;

Tensors problem(Generator& g, int64_t B, int64_t L, int64_t D, int64_t N, bool optional = true) {
  return {randn(g, {B, L, D}),  mul(randn(g, {B, L, D}), 0.5), neg(exp(mul(randn(g, {D, N}), 0.5))),
          randn(g, {B, L, N}),  randn(g, {B, L, N}),           optional ? randn(g, {D}) : Tensor(),
          optional ? randn(g, {B, L, D}) : Tensor(), optional ? mul(randn(g, {D}), 0.3) : Tensor()};
}

json args(const char* disc = "zoh", const char* algorithm = "sequential", double alpha = 0.5,
          bool softplus = true, int chunk = 2) {
  return {{"discretization", disc}, {"algorithm", algorithm}, {"alpha", alpha},
          {"softplus", softplus},    {"chunk", chunk}};
}

SelectiveScanOptions options(const json& a) {
  SelectiveScanOptions o;
  o.discretization = parse_discretization(a.at("discretization"));
  o.algorithm = parse_scan_algorithm(a.at("algorithm"));
  o.alpha = a.at("alpha");
  o.delta_softplus = a.at("softplus");
  o.chunk = a.at("chunk");
  return o;
}

SSM_OP_INFO({.name = "selective_scan",
             .nodes = {OpId::selective_scan},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7],
                                             options(a))};
             },
             .samples = [](Generator& g) {
               std::vector<Sample> s;
               for (const char* d : {"zoh", "zoh_exact", "bilinear"}) s.push_back({d, problem(g, 2, 5, 3, 2), args(d)});
               s.push_back({"generalized_bilinear alpha 0.3", problem(g, 2, 5, 3, 2),
                            args("generalized_bilinear", "sequential", 0.3)});
               s.push_back({"parallel", problem(g, 2, 7, 3, 2), args("zoh", "parallel")});
               s.push_back({"log_space", problem(g, 2, 6, 3, 2), args("zoh", "log_space")});
               Tensors p = problem(g, 1, 4, 3, 3, false);
               p[1] = add(abs(p[1]), 0.1);  // delta is dt itself without softplus: keep it positive
               s.push_back({"no optional inputs, no softplus", p, args("zoh", "sequential", 0.5, false)});
               s.push_back({"two channel blocks", problem(g, 1, 3, 35, 2), args("zoh", "sequential", 0.5, true, 64)});
               Tensors nc = problem(g, 2, 4, 3, 2);
               nc[0] = noncontig(nc[0]);
               nc[3] = noncontig(nc[3]);
               s.push_back({"non-contiguous u and B", nc, args("bilinear")});
               return s;
             }});

}  // namespace
}  // namespace ssm::testing
