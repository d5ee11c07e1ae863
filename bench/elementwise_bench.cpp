// Large elementwise ops against memcpy: effective bandwidth (bytes read + written per second).
//   ./build/bench/ssm_bench --benchmark_filter='add|mul|silu|memcpy'
#include <benchmark/benchmark.h>

#include <cstring>

#include "core/allocator.h"
#include "core/autograd.h"
#include "ops/elementwise.h"

namespace {

using ssm::DType;
using ssm::Tensor;

void BM_memcpy(benchmark::State& state) {
  size_t n = size_t(state.range(0));
  Tensor a = Tensor::randn({int64_t(n)}), b = Tensor::empty({int64_t(n)});
  for (auto _ : state) {
    std::memcpy(b.raw_data(), a.raw_data(), n * 4);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n) * 4 * 2);
}

template <class F>
void binary(benchmark::State& state, F f) {
  int64_t n = state.range(0);
  Tensor a = Tensor::randn({n}), b = Tensor::randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(f(a, b).raw_data());
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 4 * 3);
}

void BM_add_f32(benchmark::State& s) { binary(s, [](auto& a, auto& b) { return ssm::add(a, b); }); }
void BM_mul_f32(benchmark::State& s) { binary(s, [](auto& a, auto& b) { return ssm::mul(a, b); }); }

void BM_silu_f32(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor a = Tensor::randn({n});
  for (auto _ : state) benchmark::DoNotOptimize(ssm::silu(a).raw_data());
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 4 * 2);
}

// Broadcast add of a bias row to a (rows, 1024) matrix: the strided path.
void BM_add_bias_f32(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor a = Tensor::randn({n / 1024, 1024}), b = Tensor::randn({1024});
  for (auto _ : state) benchmark::DoNotOptimize(ssm::add(a, b).raw_data());
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 4 * 2);
}

constexpr int64_t kBig = int64_t(1) << 24;  // 16M floats: 64 MiB per tensor, far beyond cache
BENCHMARK(BM_memcpy)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_add_f32)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_mul_f32)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_add_bias_f32)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_silu_f32)->Arg(kBig)->UseRealTime();

}  // namespace
