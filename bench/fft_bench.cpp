// The FFT ops and fft_conv on the CPU, float32, as the length grows.
//   rfft/L:<n>                rfft of 64 rows of n values (n a power of two)
//   rfft/bluestein/L:<n>      the same at primes n (Bluestein's algorithm)
//   fft/L:<n>                 complex fft of 64 rows
//   fft_conv_fwd/L:<L>        fft_conv of u (1, 64, L) with a kernel (64, L), forward only
//   fft_conv_fwd_bwd/L:<L>    forward + backward of u and k
//   direct_conv_fwd/L:<L>     the same causal convolution as the O(L^2) sum, rows spread over the
//                             same threads, the inner loop vectorised: where the FFT starts to pay
// The complexity fit (Google Benchmark's BigO row, n log n) shows the O(L log L) growth. Each
// benchmark makes one untimed call first (plans, first-touch pages), as the PyTorch script does.
// Threads: the default OpenMP count (OMP_NUM_THREADS). PyTorch on the same shapes:
// tools/fft_torch_bench.py.
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter='fft|direct_conv'
#include <benchmark/benchmark.h>

#include <vector>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/fft.h"
#include "ops/fft_conv.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int64_t kRows = 64;  // channels (H) of one batch row

void BM_rfft(benchmark::State& state) {
  int64_t n = state.range(0);
  ssm::Generator gen{uint64_t(n)};
  Tensor x = Tensor::randn({kRows, n}, DType::f32, &gen);
  ssm::rfft(x);
  for (auto _ : state) benchmark::DoNotOptimize(ssm::rfft(x).raw_data());
  state.SetComplexityN(n);
}

void BM_fft(benchmark::State& state) {
  int64_t n = state.range(0);
  ssm::Generator gen{uint64_t(n)};
  Tensor x = Tensor::randn({kRows, n, 2}, DType::f32, &gen);
  ssm::fft(x);
  for (auto _ : state) benchmark::DoNotOptimize(ssm::fft(x).raw_data());
  state.SetComplexityN(n);
}

void BM_fft_conv_fwd(benchmark::State& state) {
  int64_t L = state.range(0);
  ssm::Generator gen{uint64_t(L)};
  Tensor u = Tensor::randn({1, kRows, L}, DType::f32, &gen);
  Tensor k = Tensor::randn({kRows, L}, DType::f32, &gen);
  ssm::NoGradGuard ng;
  ssm::fft_conv(u, k);
  for (auto _ : state) benchmark::DoNotOptimize(ssm::fft_conv(u, k).raw_data());
  state.SetComplexityN(L);
}

void BM_fft_conv_fwd_bwd(benchmark::State& state) {
  int64_t L = state.range(0);
  ssm::Generator gen{uint64_t(L)};
  Tensor u = Tensor::randn({1, kRows, L}, DType::f32, &gen).requires_grad_(true);
  Tensor k = Tensor::randn({kRows, L}, DType::f32, &gen).requires_grad_(true);
  Tensor g = Tensor::randn({1, kRows, L}, DType::f32, &gen);
  auto step = [&] {
    ssm::fft_conv(u, k).backward(g);
    u.zero_grad();
    k.zero_grad();
  };
  step();
  for (auto _ : state) step();
  state.SetComplexityN(L);
}

// y[h, t] = sum_{s <= t} k[h, s] u[h, t - s], written as t-outer so that the inner loop over s
// reads both rows with unit stride (one reversed) and vectorises.
void BM_direct_conv_fwd(benchmark::State& state) {
  int64_t L = state.range(0);
  ssm::Generator gen{uint64_t(L)};
  std::vector<float> u = Tensor::randn({kRows, L}, DType::f32, &gen).to_vector<float>();
  std::vector<float> k = Tensor::randn({kRows, L}, DType::f32, &gen).to_vector<float>();
  std::vector<float> ur(u.size()), y(u.size());
  for (int64_t h = 0; h < kRows; ++h)  // reversed rows: ur[h, L - 1 - j] = u[h, j]
    for (int64_t j = 0; j < L; ++j) ur[size_t(h * L + L - 1 - j)] = u[size_t(h * L + j)];
  for (auto _ : state) {
    ssm::parallel_for(0, kRows, 1, [&](int64_t h0, int64_t h1) {
      for (int64_t h = h0; h < h1; ++h) {
        const float* kh = k.data() + h * L;
        const float* uh = ur.data() + h * L;
        for (int64_t t = 0; t < L; ++t) {
          // u[t - s] = ur[L - 1 - t + s]
          const float* us = uh + (L - 1 - t);
          float acc = 0;
          for (int64_t s = 0; s <= t; ++s) acc += kh[s] * us[s];
          y[size_t(h * L + t)] = acc;
        }
      }
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.SetComplexityN(L);
}

BENCHMARK(BM_rfft)->Name("rfft")->ArgName("L")->RangeMultiplier(4)->Range(256, 65536)
    ->Complexity(benchmark::oNLogN)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_rfft)->Name("rfft/bluestein")->ArgName("L")->Arg(257)->Arg(1031)->Arg(4099)->Arg(16411)
    ->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fft)->Name("fft")->ArgName("L")->RangeMultiplier(4)->Range(256, 65536)
    ->Complexity(benchmark::oNLogN)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fft_conv_fwd)->Name("fft_conv_fwd")->ArgName("L")->RangeMultiplier(4)->Range(256, 65536)
    ->Complexity(benchmark::oNLogN)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fft_conv_fwd_bwd)->Name("fft_conv_fwd_bwd")->ArgName("L")->RangeMultiplier(4)
    ->Range(256, 65536)->Complexity(benchmark::oNLogN)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_direct_conv_fwd)->Name("direct_conv_fwd")->ArgName("L")->RangeMultiplier(4)->Range(256, 16384)
    ->Complexity(benchmark::oNSquared)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
