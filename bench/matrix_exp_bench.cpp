// matrix_exp forward, and forward + backward, on a batch of state matrices as a dense-A SSM
// layer discretizes them each step (one per channel: 256 channels of N x N, float32 / float64).
//
//   ./build/bench/ssm_bench --benchmark_filter=matrix_exp
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/matrix_exp.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int64_t kChannels = 256;

Tensor state_matrices(int64_t n, DType dt, uint64_t seed) {
  ssm::Generator gen(seed);
  return ssm::mul(Tensor::randn({kChannels, n, n}, DType::f64, &gen), 0.3).to(dt);
}

void BM_matrix_exp(benchmark::State& state) {
  int64_t n = state.range(0);
  DType dt = state.range(1) ? DType::f64 : DType::f32;
  Tensor A = state_matrices(n, dt, 1);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor E = ssm::matrix_exp(A);
    benchmark::DoNotOptimize(E.raw_data());
  }
  state.SetLabel(ssm::dtype_name(dt));
}

void BM_matrix_exp_backward(benchmark::State& state) {
  int64_t n = state.range(0);
  DType dt = state.range(1) ? DType::f64 : DType::f32;
  Tensor A = state_matrices(n, dt, 2).requires_grad_();
  Tensor g = state_matrices(n, dt, 3);
  for (auto _ : state) {
    ssm::matrix_exp(A).backward(g);
    benchmark::DoNotOptimize(A.grad().raw_data());
    A.zero_grad();
  }
  state.SetLabel(ssm::dtype_name(dt));
}

BENCHMARK(BM_matrix_exp)->ArgsProduct({{16, 64}, {0, 1}})->Unit(benchmark::kMillisecond);
BENCHMARK(BM_matrix_exp_backward)->ArgsProduct({{16, 64}, {0, 1}})->Unit(benchmark::kMillisecond);

}  // namespace
