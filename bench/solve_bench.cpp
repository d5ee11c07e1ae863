// solve forward, and forward + backward, on a batch of state-sized systems (256 channels of
// N x N with N + 1 right-hand sides, as discretize_dense's bilinear rule solves), float32 / float64.
//
//   ./build/bench/ssm_bench --benchmark_filter=solve
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/solve.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int64_t kChannels = 256;

Tensor systems(int64_t n, DType dt, uint64_t seed) {  // well conditioned: n on the diagonal
  ssm::Generator gen(seed);
  std::vector<double> v = Tensor::randn({kChannels, n, n}, DType::f64, &gen).to_vector<double>();
  for (size_t i = 0; i < v.size(); ++i)
    if (int64_t(i) / n % n == int64_t(i) % n) v[i] += double(n);
  return Tensor::from_vector(v, {kChannels, n, n}).to(dt);
}

void BM_solve(benchmark::State& state) {
  int64_t n = state.range(0);
  DType dt = state.range(1) ? DType::f64 : DType::f32;
  ssm::Generator gen(1);
  Tensor A = systems(n, dt, 2), B = Tensor::randn({kChannels, n, n + 1}, dt, &gen);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor X = ssm::solve(A, B);
    benchmark::DoNotOptimize(X.raw_data());
  }
  state.SetLabel(ssm::dtype_name(dt));
}

void BM_solve_backward(benchmark::State& state) {
  int64_t n = state.range(0);
  DType dt = state.range(1) ? DType::f64 : DType::f32;
  ssm::Generator gen(3);
  Tensor A = systems(n, dt, 4).requires_grad_();
  Tensor B = Tensor::randn({kChannels, n, n + 1}, dt, &gen).requires_grad_();
  Tensor g = Tensor::randn({kChannels, n, n + 1}, dt, &gen);
  for (auto _ : state) {
    ssm::solve(A, B).backward(g);
    benchmark::DoNotOptimize(A.grad().raw_data());
    A.zero_grad();
    B.zero_grad();
  }
  state.SetLabel(ssm::dtype_name(dt));
}

BENCHMARK(BM_solve)->ArgsProduct({{16, 64}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_solve_backward)->ArgsProduct({{16, 64}, {0, 1}})->Unit(benchmark::kMillisecond);

}  // namespace
