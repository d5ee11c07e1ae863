// diag_scan (S5's scan) on the CPU: the threaded scan against the sequential loop, float32.
//   diag_scan/sequential/L:<L>   one thread, one chunk: the plain recurrence
//   diag_scan/threads/L:<L>      the default split (threads over batch and mode blocks, time
//                                chunks when those cannot occupy the threads)
//   diag_scan/chunks/L:<L>       one time chunk per thread (the chunked scan with its fix-up pass)
//   diag_scan_fwd_bwd/<same>     forward + backward of λ and b
// Shapes: batch 1 (where time chunks matter most), 128 complex modes (an S5 layer with d_state
// N = 256 and conjugate symmetry), |λ| in [0.9, 1).
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter=diag_scan
#include <benchmark/benchmark.h>

#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/diag_scan.h"

namespace {

using ssm::DType;
using ssm::Tensor;

constexpr int64_t kBatch = 1, kModes = 128;

Tensor lambdas(ssm::Generator& g) {
  std::vector<double> r = Tensor::uniform({kModes}, 0.9, 1.0, DType::f64, &g).to_vector<double>();
  std::vector<double> t = Tensor::uniform({kModes}, -3.0, 3.0, DType::f64, &g).to_vector<double>();
  std::vector<double> v;
  for (int64_t i = 0; i < kModes; ++i) {
    v.push_back(r[size_t(i)] * std::cos(t[size_t(i)]));
    v.push_back(r[size_t(i)] * std::sin(t[size_t(i)]));
  }
  return Tensor::from_vector(v, {kModes, 2}).to(DType::f32);
}

enum Mode { sequential, threads, chunks };

void run(benchmark::State& state, Mode mode, bool backward) {
  const int64_t L = state.range(0);
  ssm::Generator g{uint64_t(L)};
  Tensor lam = lambdas(g), b = Tensor::randn({kBatch, L, kModes, 2}, DType::f32, &g);
  Tensor gout = Tensor::randn({kBatch, L, kModes, 2}, DType::f32, &g);
  const int before = ssm::num_threads();
  if (mode == sequential) ssm::set_num_threads(1);
  const int64_t c = mode == sequential ? 1 : mode == chunks ? before : 0;
  if (backward) {
    lam.requires_grad_(true);
    b.requires_grad_(true);
  }
  for (auto _ : state) {
    if (backward) {
      Tensor x = ssm::diag_scan(lam, b, false, Tensor(), c);
      x.backward(gout);
      benchmark::DoNotOptimize(b.grad().raw_data());
      lam.zero_grad();
      b.zero_grad();
    } else {
      ssm::NoGradGuard ng;
      benchmark::DoNotOptimize(ssm::diag_scan(lam, b, false, Tensor(), c).raw_data());
    }
  }
  ssm::set_num_threads(before);
  state.counters["threads"] = mode == sequential ? 1 : before;
  state.SetItemsProcessed(state.iterations() * kBatch * L * kModes);
}

#define DIAG_SCAN_CASE(name, mode, bwd) \
  BENCHMARK_CAPTURE(run, name, mode, bwd)->ArgName("L")->Arg(1024)->Arg(4096)->Arg(16384)->Unit(benchmark::kMillisecond)

DIAG_SCAN_CASE(diag_scan/sequential, sequential, false);
DIAG_SCAN_CASE(diag_scan/threads, threads, false);
DIAG_SCAN_CASE(diag_scan/chunks, chunks, false);
DIAG_SCAN_CASE(diag_scan_fwd_bwd/sequential, sequential, true);
DIAG_SCAN_CASE(diag_scan_fwd_bwd/threads, threads, true);
DIAG_SCAN_CASE(diag_scan_fwd_bwd/chunks, chunks, true);

}  // namespace
