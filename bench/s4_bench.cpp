// The S4 mixer on the CPU, float32: its convolution kernel (Cauchy sums at l_max/2 + 1 nodes,
// Woodbury, irfft) as l_max grows, forward and forward + backward; H 64, N 64 (32 modes). The
// Cauchy sums cost O(H M L), the transform O(H L log L).
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter='s4'
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s4.h"
#include "ops/reduce.h"

namespace {

ssm::nn::S4Config config(int64_t L) {
  ssm::nn::S4Config c;
  c.d_model = 64;
  c.d_state = 64;
  c.l_max = L;
  return c;
}

void BM_s4_kernel_fwd(benchmark::State& state) {
  int64_t L = state.range(0);
  ssm::Generator gen{1};
  ssm::nn::S4 s4(config(L), gen);
  ssm::NoGradGuard ng;
  s4.kernel->forward(L);
  for (auto _ : state) benchmark::DoNotOptimize(s4.kernel->forward(L).raw_data());
  state.SetComplexityN(L);
}

void BM_s4_kernel_fwd_bwd(benchmark::State& state) {
  int64_t L = state.range(0);
  ssm::Generator gen{1};
  ssm::nn::S4 s4(config(L), gen);
  for (auto _ : state) {
    s4.zero_grad();
    ssm::sum(s4.kernel->forward(L)).backward();
  }
  state.SetComplexityN(L);
}

BENCHMARK(BM_s4_kernel_fwd)->RangeMultiplier(4)->Range(256, 16384)->Unit(benchmark::kMillisecond)->Complexity();
BENCHMARK(BM_s4_kernel_fwd_bwd)->RangeMultiplier(4)->Range(256, 16384)->Unit(benchmark::kMillisecond)->Complexity();

}  // namespace
