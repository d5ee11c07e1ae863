// layer_norm / rms_norm forward and forward + backward on float32 rows of a typical model shape
// (B * L = 4096 rows, D = 768). GB/s counts the bytes a fused kernel must move: forward reads x
// and writes y (8 bytes per element); backward also reads x and g and writes dx (12 more).
//
//   ./build/bench/ssm_bench --benchmark_filter=norm
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/norm.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int64_t kRows = 4096, kDim = 768;

void set_bytes(benchmark::State& state, double bytes_per_iter) {
  state.counters["GB/s"] = benchmark::Counter(bytes_per_iter * double(state.iterations()),
                                              benchmark::Counter::kIsRate,
                                              benchmark::Counter::kIs1000);
}

Tensor run_norm(bool rms, const Tensor& x, const Tensor& w, const Tensor& b) {
  return rms ? ssm::rms_norm(x, w) : ssm::layer_norm(x, w, b);
}

void BM_norm_forward(benchmark::State& state) {
  bool rms = state.range(0) == 1;
  ssm::Generator gen(1);
  Tensor x = Tensor::randn({kRows, kDim}, DType::f32, &gen);
  Tensor w = Tensor::randn({kDim}, DType::f32, &gen), b = Tensor::randn({kDim}, DType::f32, &gen);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor y = run_norm(rms, x, w, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_bytes(state, 8.0 * kRows * kDim);
  state.SetLabel(rms ? "rms_norm" : "layer_norm");
}

void BM_norm_forward_backward(benchmark::State& state) {
  bool rms = state.range(0) == 1;
  ssm::Generator gen(2);
  Tensor x = Tensor::randn({kRows, kDim}, DType::f32, &gen).requires_grad_();
  Tensor w = Tensor::randn({kDim}, DType::f32, &gen).requires_grad_();
  Tensor b = Tensor::randn({kDim}, DType::f32, &gen).requires_grad_();
  Tensor g = Tensor::randn({kRows, kDim}, DType::f32, &gen);
  for (auto _ : state) {
    run_norm(rms, x, w, b).backward(g);
    benchmark::DoNotOptimize(x.grad().raw_data());
    x.zero_grad();
    w.zero_grad();
    b.zero_grad();
  }
  set_bytes(state, 20.0 * kRows * kDim);
  state.SetLabel(rms ? "rms_norm" : "layer_norm");
}

BENCHMARK(BM_norm_forward)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_norm_forward_backward)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
