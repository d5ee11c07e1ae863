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

// seq_start (B, L) with ones at the given (row, t) starts (t = 0 of every row is one anyway).
Tensor starts(int64_t B, int64_t L, const std::vector<std::pair<int64_t, int64_t>>& at,
              DType dt = DType::i64) {
  std::vector<int64_t> v(size_t(B * L), 0);
  for (auto [b, t] : at) v[size_t(b * L + t)] = 1;
  return Tensor::from_vector(v, {B, L}).to(dt);
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
               Tensor seq_start = in.size() > 8 ? in[8] : Tensor();
               return Tensors{selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7],
                                             options(a), nullptr, seq_start)};
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
               // Packed rows (seq_start): boundaries at t = 1, on and off chunk boundaries.
               Tensors pk = problem(g, 2, 9, 3, 2);
               pk.push_back(starts(2, 9, {{0, 3}, {0, 7}, {1, 1}, {1, 4}}));
               s.push_back({"packed", pk, args("zoh")});
               Tensors pp = problem(g, 2, 9, 3, 2);
               pp.push_back(starts(2, 9, {{0, 2}, {0, 5}, {1, 6}}, DType::i32));
               s.push_back({"packed parallel zoh_exact", pp, args("zoh_exact", "parallel", 0.5, true, 3)});
               Tensors pn = problem(g, 1, 8, 3, 3, false);
               pn[1] = add(abs(pn[1]), 0.1);
               pn.push_back(starts(1, 8, {{0, 4}, {0, 5}}, DType::b8));
               s.push_back({"packed bilinear, no optional inputs", pn, args("bilinear", "sequential", 0.5, false, 4)});
               return s;
             }});

}  // namespace
}  // namespace ssm::testing
