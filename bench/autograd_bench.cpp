// Autograd overhead per node on tiny tensors, where the arithmetic is negligible:
// a chain of kChain muls on a 4-element tensor, forward + backward, with and without recording.
// The difference per node is what the graph costs (Node, edges, saved tensors, engine).
//   ./build/bench/ssm_bench --benchmark_filter=chain
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "ops/elementwise.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int kChain = 100;

void BM_chain_no_grad(benchmark::State& state) {
  Tensor x = Tensor::randn({4}), w = Tensor::randn({4});
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kChain; ++i) y = ssm::mul(y, w);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["per_node"] = benchmark::Counter(
      double(state.iterations()) * kChain, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_chain_with_grad(benchmark::State& state) {
  Tensor x = Tensor::randn({4}).requires_grad_(), w = Tensor::randn({4});
  Tensor g = Tensor::ones({4});
  for (auto _ : state) {
    Tensor y = x;
    for (int i = 0; i < kChain; ++i) y = ssm::mul(y, w);
    y.backward(g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
  }
  state.counters["per_node"] = benchmark::Counter(
      double(state.iterations()) * kChain, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

BENCHMARK(BM_chain_no_grad);
BENCHMARK(BM_chain_with_grad);

}  // namespace
