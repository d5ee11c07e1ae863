// The S4D kernel and layer on the CPU, float32, as the length grows.
//   vandermonde_fwd/L:<L>       the kernel K (64, L) of 32 complex modes (H 64, N 64), forward
//   vandermonde_fwd_bwd/L:<L>   forward + backward of C, dt and A
//   s4d_fwd_bwd/L:<L>           the whole mixer (nn/s4d.h) on x (1, L, 64), forward + backward
// The kernel costs H M L (one exp and one sincos each): linear in L (the BigO row); the layer adds
// the FFT convolution's L log L. Threads: the default OpenMP count (OMP_NUM_THREADS).
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter='vandermonde|s4d'
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s4d.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/vandermonde.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int64_t kH = 64, kN = 64;

struct Kernel {
  Tensor C, dt, A;
};

Kernel make_kernel(uint64_t seed) {
  ssm::Generator g(seed);
  ssm::nn::S4dConfig cfg;
  cfg.d_model = kH;
  cfg.d_state = kN;
  ssm::nn::S4d layer(cfg, g);
  ssm::NoGradGuard ng;
  return {layer.C.view({1, kH, kN / 2, 2}).clone(), ssm::exp(layer.log_dt),
          ssm::stack({ssm::neg(ssm::exp(layer.log_A_real)), layer.A_imag}, -1)};
}

void BM_vandermonde_fwd(benchmark::State& state) {
  int64_t L = state.range(0);
  Kernel k = make_kernel(1);
  ssm::NoGradGuard ng;
  for (auto _ : state) benchmark::DoNotOptimize(ssm::vandermonde(k.C, k.dt, k.A, L).raw_data());
  state.SetComplexityN(L);
}

void BM_vandermonde_fwd_bwd(benchmark::State& state) {
  int64_t L = state.range(0);
  Kernel k = make_kernel(2);
  for (Tensor* t : {&k.C, &k.dt, &k.A}) t->requires_grad_(true);
  ssm::Generator g(3);
  Tensor gk = Tensor::randn({1, kH, L}, DType::f32, &g);
  for (auto _ : state) ssm::vandermonde(k.C, k.dt, k.A, L).backward(gk);
  state.SetComplexityN(L);
}

void BM_s4d_fwd_bwd(benchmark::State& state) {
  int64_t L = state.range(0);
  ssm::Generator g(4);
  ssm::nn::S4dConfig cfg;
  cfg.d_model = kH;
  cfg.d_state = kN;
  ssm::nn::S4d layer(cfg, g);
  Tensor x = Tensor::randn({1, L, kH}, DType::f32, &g).requires_grad_(true);
  Tensor gy = Tensor::randn({1, L, kH}, DType::f32, &g);
  for (auto _ : state) layer.forward(x).backward(gy);
  state.SetComplexityN(L);
}

BENCHMARK(BM_vandermonde_fwd)->RangeMultiplier(4)->Range(256, 16384)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oN);
BENCHMARK(BM_vandermonde_fwd_bwd)->RangeMultiplier(4)->Range(256, 4096)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oN);
BENCHMARK(BM_s4d_fwd_bwd)->RangeMultiplier(4)->Range(256, 4096)->Unit(benchmark::kMillisecond)->Complexity(benchmark::oNLogN);

}  // namespace
