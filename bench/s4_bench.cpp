// S4 on the CPU, float32, H 64, N 64 (32 modes):
//   s4_kernel_*        the convolution kernel (Cauchy sums at l_max/2 + 1 nodes, Woodbury, irfft)
//                      as l_max grows, forward and forward + backward: the Cauchy sums cost
//                      O(H M L), the transform O(H L log L)
//   s4_fftconv_gelu    forward + backward of the scope of issue 16's reference figures and of
//                      tools/s4_torch_bench.py (kernel, FFT convolution, D skip, GELU: one
//                      long_conv on u (B, L, H); no output linear), batch 2, L = l_max: the plain-PyTorch
//                      comparison runs `tools/s4_torch_bench.py --device cpu --layers s4
//                      --batch 2 --hidden 64 --lengths 1024 4096 --threads 2`
//   s4_mixer           the whole mixer (plus the GLU output linear), same shapes
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter='s4'
#include <benchmark/benchmark.h>

#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s4.h"
#include "ops/elementwise.h"
#include "ops/long_conv.h"
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

void BM_s4_fftconv_gelu_fwd_bwd(benchmark::State& state) {
  const int64_t B = 2, H = 64, L = state.range(0);
  ssm::Generator gen{1};
  ssm::nn::S4 s4(config(L), gen);
  s4.eval();
  ssm::Tensor u = ssm::Tensor::randn({B, L, H}, ssm::DType::f32, &gen).requires_grad_(true);
  ssm::Tensor g = ssm::Tensor::randn({B, L, H}, ssm::DType::f32, &gen);
  for (auto _ : state) {
    s4.zero_grad();
    u.zero_grad();
    ssm::Tensor k = s4.kernel->forward(L).select(0, 0);
    ssm::Tensor y = ssm::long_conv(u, k, s4.D.view({H}));
    y.backward(g);
  }
}

void BM_s4_mixer_fwd_bwd(benchmark::State& state) {
  const int64_t B = 2, H = 64, L = state.range(0);
  ssm::Generator gen{1};
  ssm::nn::S4 s4(config(L), gen);
  s4.eval();
  ssm::Tensor x = ssm::Tensor::randn({B, L, H}, ssm::DType::f32, &gen).requires_grad_(true);
  ssm::Tensor g = ssm::Tensor::randn({B, L, H}, ssm::DType::f32, &gen);
  for (auto _ : state) {
    s4.zero_grad();
    x.zero_grad();
    s4.forward(x).backward(g);
  }
}

BENCHMARK(BM_s4_kernel_fwd)->RangeMultiplier(4)->Range(256, 16384)->Unit(benchmark::kMillisecond)->Complexity();
BENCHMARK(BM_s4_kernel_fwd_bwd)->RangeMultiplier(4)->Range(256, 16384)->Unit(benchmark::kMillisecond)->Complexity();
BENCHMARK(BM_s4_fftconv_gelu_fwd_bwd)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_s4_mixer_fwd_bwd)->Arg(1024)->Arg(4096)->Unit(benchmark::kMillisecond);

}  // namespace
