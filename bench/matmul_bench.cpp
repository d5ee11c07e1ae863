// ssm::matmul / ssm::linear against raw OpenBLAS on the same float32 data.
//
// Pairs: BM_matmul_ssm/N vs BM_matmul_openblas/N (square N x N x N), BM_linear_ssm vs
// BM_linear_openblas (x (4096, 768) @ W^T, W (1536, 768), plus bias: a Mamba in_proj-sized layer),
// BM_matmul_batched_ssm vs BM_matmul_batched_openblas (many small matrices).
// The ssm side allocates its output every iteration, as a user call does; the OpenBLAS side
// writes into a preallocated buffer. GFLOPS counts 2 M N K per product.
//
//   cmake -S . -B build -G Ninja -DSSM_BUILD_BENCH=ON && ninja -C build ssm_bench
//   ./build/bench/ssm_bench --benchmark_filter='matmul|linear'
#include <benchmark/benchmark.h>
#include <cblas.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/matmul.h"

namespace {

using ssm::DType;
using ssm::Tensor;

void set_gflops(benchmark::State& state, double flops_per_iter) {
  state.counters["GFLOPS"] = benchmark::Counter(flops_per_iter * double(state.iterations()),
                                                benchmark::Counter::kIsRate,
                                                benchmark::Counter::kIs1000);
}

void BM_matmul_ssm(benchmark::State& state) {
  int64_t n = state.range(0);
  ssm::Generator gen(1);
  Tensor a = Tensor::randn({n, n}, DType::f32, &gen), b = Tensor::randn({n, n}, DType::f32, &gen);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor c = ssm::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 2.0 * double(n) * double(n) * double(n));
}

void BM_matmul_openblas(benchmark::State& state) {
  int64_t n = state.range(0);
  ssm::Generator gen(1);
  Tensor a = Tensor::randn({n, n}, DType::f32, &gen), b = Tensor::randn({n, n}, DType::f32, &gen);
  Tensor c = Tensor::empty({n, n}, DType::f32);
  int ni = int(n);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ni, ni, ni, 1.0f, a.data<float>(), ni,
                b.data<float>(), ni, 0.0f, c.data<float>(), ni);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 2.0 * double(n) * double(n) * double(n));
}

void square_sizes(benchmark::internal::Benchmark* b) {
  for (int64_t n : {256, 512, 1024, 2048}) b->Arg(n);
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_matmul_ssm)->Apply(square_sizes);
BENCHMARK(BM_matmul_openblas)->Apply(square_sizes);

// A typical projection: rows = B * L = 4096, in = 768, out = 1536.
constexpr int64_t kRows = 4096, kIn = 768, kOut = 1536;

void BM_linear_ssm(benchmark::State& state) {
  ssm::Generator gen(2);
  Tensor x = Tensor::randn({8, kRows / 8, kIn}, DType::f32, &gen);
  Tensor w = Tensor::randn({kOut, kIn}, DType::f32, &gen);
  Tensor b = Tensor::randn({kOut}, DType::f32, &gen);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor y = ssm::linear(x, w, b);
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_gflops(state, 2.0 * double(kRows) * double(kIn) * double(kOut));
}

// The same product and bias add by hand: rows of y set to the bias, then sgemm with beta = 1.
void BM_linear_openblas(benchmark::State& state) {
  ssm::Generator gen(2);
  Tensor x = Tensor::randn({kRows, kIn}, DType::f32, &gen);
  Tensor w = Tensor::randn({kOut, kIn}, DType::f32, &gen);
  Tensor b = Tensor::randn({kOut}, DType::f32, &gen);
  Tensor y = Tensor::empty({kRows, kOut}, DType::f32);
  for (auto _ : state) {
    float* yp = y.data<float>();
    const float* bp = b.data<float>();
    for (int64_t r = 0; r < kRows; ++r) std::copy(bp, bp + kOut, yp + r * kOut);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(kRows), int(kOut), int(kIn), 1.0f,
                x.data<float>(), int(kIn), w.data<float>(), int(kIn), 1.0f, yp, int(kOut));
    benchmark::DoNotOptimize(y.raw_data());
  }
  set_gflops(state, 2.0 * double(kRows) * double(kIn) * double(kOut));
}

BENCHMARK(BM_linear_ssm)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_linear_openblas)->Unit(benchmark::kMillisecond)->UseRealTime();

// Many small products, (batch, 32, 32) @ (batch, 32, 32): our batch loop against a serial
// loop of sgemm calls.
constexpr int64_t kBatch = 1024, kSmall = 32;

void BM_matmul_batched_ssm(benchmark::State& state) {
  ssm::Generator gen(3);
  Tensor a = Tensor::randn({kBatch, kSmall, kSmall}, DType::f32, &gen);
  Tensor b = Tensor::randn({kBatch, kSmall, kSmall}, DType::f32, &gen);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor c = ssm::matmul(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 2.0 * double(kBatch) * double(kSmall * kSmall * kSmall));
}

void BM_matmul_batched_openblas(benchmark::State& state) {
  ssm::Generator gen(3);
  Tensor a = Tensor::randn({kBatch, kSmall, kSmall}, DType::f32, &gen);
  Tensor b = Tensor::randn({kBatch, kSmall, kSmall}, DType::f32, &gen);
  Tensor c = Tensor::empty({kBatch, kSmall, kSmall}, DType::f32);
  int n = int(kSmall);
  for (auto _ : state) {
    for (int64_t i = 0; i < kBatch; ++i)
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f,
                  a.data<float>() + i * n * n, n, b.data<float>() + i * n * n, n, 0.0f,
                  c.data<float>() + i * n * n, n);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_gflops(state, 2.0 * double(kBatch) * double(kSmall * kSmall * kSmall));
}

BENCHMARK(BM_matmul_batched_ssm)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_matmul_batched_openblas)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
