// Large elementwise ops against memcpy: effective bandwidth (bytes read + written per second).
//   ./build/bench/ssm_bench --benchmark_filter='add|mul|silu|memcpy'
#include <benchmark/benchmark.h>

#include <cstring>

#include "core/allocator.h"
#include "core/autograd.h"
#include "core/parallel.h"
#include "ops/elementwise.h"

namespace {

using ssm::DType;
using ssm::Tensor;

// memcpy on one thread, and split across the same threads the ops use: the fair baseline.
void BM_memcpy(benchmark::State& state) {
  size_t n = size_t(state.range(0));
  Tensor a = Tensor::randn({int64_t(n)}), b = Tensor::empty({int64_t(n)});
  for (auto _ : state) {
    std::memcpy(b.raw_data(), a.raw_data(), n * 4);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(n) * 4 * 2);
}

void BM_memcpy_threads(benchmark::State& state) {
  int64_t n = state.range(0);
  Tensor a = Tensor::randn({n}), b = Tensor::empty({n});
  char* dst = static_cast<char*>(b.raw_data());
  const char* src = static_cast<const char*>(a.raw_data());
  for (auto _ : state) {
    ssm::parallel_for(0, n, 32768, [&](int64_t lo, int64_t hi) {
      std::memcpy(dst + lo * 4, src + lo * 4, size_t(hi - lo) * 4);
    });
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * n * 4 * 2);
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

// 64M floats: 256 MiB per tensor, beyond this machine's last-level cache (the 64 MiB size runs
// partly from cache and reads above DRAM bandwidth).
constexpr int64_t kBig = int64_t(1) << 26;
BENCHMARK(BM_memcpy)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_memcpy_threads)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_add_f32)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_mul_f32)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_add_bias_f32)->Arg(kBig)->UseRealTime();
BENCHMARK(BM_silu_f32)->Arg(kBig)->UseRealTime();

}  // namespace
