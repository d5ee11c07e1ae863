// The selective scan's three algorithms (sequential, parallel, log_space) as the length grows:
// time per float32 call, forward and forward + backward, and the forward's error against the
// float64 sequential scan of the same inputs.
//   selective_scan_fwd/<algorithm>/L:<L>      forward only (no autograd)
//   selective_scan_fwd_bwd/<algorithm>/L:<L>  forward + backward of every input
// Shapes: batch 2, d_inner 128, d_state 16, zoh, with the D skip and the SiLU(z) gate, inputs as
// a Mamba block produces them: Δ = softplus(delta + bias) in about [1e-3, 0.1] (bias =
// softplus^-1 of a log-uniform draw in [1e-3, 0.1], delta ~ N(0, 0.3²)), A = -exp(A_log) with
// A_log[d, n] = log(n + 1), u, B, C, z ~ N(0, 1), D = 1.
// Counter rel_err, against the float64 sequential scan of the same (float32-valued) inputs,
// computed once per benchmark outside the timed loop: forward max |y32 - y64| / max |y64|;
// forward + backward the worst such error over the eight inputs' gradients. Threads: the default
// OpenMP count (OMP_NUM_THREADS).
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter=selective_scan
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/selective_scan.h"

namespace {

using ssm::DType;
using ssm::ScanAlgorithm;
using ssm::SelectiveScanOptions;
using ssm::Tensor;

constexpr int64_t kBatch = 2, kDInner = 128, kDState = 16;
constexpr int64_t kLengths[] = {64, 256, 1024, 4096, 8192};
constexpr ScanAlgorithm kAlgorithms[] = {ScanAlgorithm::sequential, ScanAlgorithm::parallel,
                                         ScanAlgorithm::log_space};

struct Inputs {
  Tensor u, delta, A, Bm, Cm, D, z, bias;
  std::vector<Tensor*> all() { return {&u, &delta, &A, &Bm, &Cm, &D, &z, &bias}; }
};

Inputs make_inputs(int64_t L) {
  ssm::Generator gen{uint64_t(L)};
  Inputs in;
  in.u = Tensor::randn({kBatch, L, kDInner}, DType::f32, &gen);
  in.delta = ssm::mul(Tensor::randn({kBatch, L, kDInner}, DType::f32, &gen), 0.3);
  std::vector<double> a(size_t(kDInner * kDState)), bias(static_cast<size_t>(kDInner));
  for (int64_t d = 0; d < kDInner; ++d)
    for (int64_t n = 0; n < kDState; ++n) a[size_t(d * kDState + n)] = -double(n + 1);  // -exp(log(n + 1))
  std::vector<double> r = Tensor::rand({kDInner}, DType::f64, &gen).to_vector<double>();
  for (int64_t d = 0; d < kDInner; ++d) {
    double dt = std::exp(std::log(1e-3) + r[size_t(d)] * (std::log(0.1) - std::log(1e-3)));
    bias[size_t(d)] = dt + std::log(-std::expm1(-dt));  // softplus^-1(dt)
  }
  in.A = Tensor::from_vector(a, {kDInner, kDState}).to(DType::f32);
  in.bias = Tensor::from_vector(bias, {kDInner}).to(DType::f32);
  in.Bm = Tensor::randn({kBatch, L, kDState}, DType::f32, &gen);
  in.Cm = Tensor::randn({kBatch, L, kDState}, DType::f32, &gen);
  in.D = Tensor::ones({kDInner}, DType::f32);
  in.z = Tensor::randn({kBatch, L, kDInner}, DType::f32, &gen);
  return in;
}

Tensor scan(const Inputs& in, ScanAlgorithm algorithm) {
  SelectiveScanOptions opt;
  opt.algorithm = algorithm;
  return ssm::selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.D, in.z, in.bias, opt);
}

Inputs to_f64(Inputs in) {  // a copy of the handles, not of the data
  Inputs out;
  auto src = in.all(), dst = out.all();
  for (size_t i = 0; i < src.size(); ++i) *dst[i] = src[i]->detach().to(DType::f64);
  return out;
}

// max |got - ref| / max |ref|
double relative_error(const Tensor& got, const Tensor& ref) {
  std::vector<double> g = got.to_vector<double>(), r = ref.to_vector<double>();
  double err = 0, scale = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    err = std::max(err, std::abs(g[i] - r[i]));
    scale = std::max(scale, std::abs(r[i]));
  }
  return err / scale;
}

// The forward's error against the float64 sequential scan of the same inputs.
double forward_error(const Inputs& in, ScanAlgorithm algorithm) {
  ssm::NoGradGuard ng;
  return relative_error(scan(in, algorithm), scan(to_f64(in), ScanAlgorithm::sequential));
}

// The worst gradient error (each input's gradient against its float64 sequential counterpart).
double backward_error(Inputs& in, ScanAlgorithm algorithm, const Tensor& gout) {
  Inputs in64 = to_f64(in);
  for (Tensor* t : in64.all()) t->requires_grad_();
  scan(in64, ScanAlgorithm::sequential).backward(gout.to(DType::f64));
  scan(in, algorithm).backward(gout);
  double err = 0;
  auto a = in.all(), b = in64.all();
  for (size_t i = 0; i < a.size(); ++i) {
    err = std::max(err, relative_error(a[i]->grad(), b[i]->grad()));
    a[i]->zero_grad();
  }
  return err;
}

void forward(benchmark::State& state, ScanAlgorithm algorithm, int64_t L) {
  Inputs in = make_inputs(L);
  ssm::NoGradGuard ng;
  for (auto _ : state) {
    Tensor y = scan(in, algorithm);
    benchmark::DoNotOptimize(y.raw_data());
  }
  state.counters["rel_err"] = forward_error(in, algorithm);
  state.counters["threads"] = ssm::num_threads();
  state.SetItemsProcessed(state.iterations() * kBatch * L * kDInner * kDState);  // state updates
}

void forward_backward(benchmark::State& state, ScanAlgorithm algorithm, int64_t L) {
  Inputs in = make_inputs(L);
  for (Tensor* t : in.all()) t->requires_grad_();
  ssm::Generator gen(7);
  Tensor gout = Tensor::randn({kBatch, L, kDInner}, DType::f32, &gen);
  for (auto _ : state) {
    Tensor y = scan(in, algorithm);
    y.backward(gout);
    benchmark::DoNotOptimize(in.u.grad().raw_data());
    for (Tensor* t : in.all()) t->zero_grad();
  }
  state.counters["rel_err"] = backward_error(in, algorithm, gout);
  state.counters["threads"] = ssm::num_threads();
  state.SetItemsProcessed(state.iterations() * kBatch * L * kDInner * kDState);
}

const bool registered = [] {
  for (ScanAlgorithm a : kAlgorithms) {
    for (int64_t L : kLengths) {
      std::string suffix = std::string("/") + ssm::scan_algorithm_name(a) + "/L:" + std::to_string(L);
      benchmark::RegisterBenchmark(("selective_scan_fwd" + suffix).c_str(), forward, a, L)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("selective_scan_fwd_bwd" + suffix).c_str(), forward_backward, a, L)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
