// GPU benchmark of the core CUDA tensor ops: elementwise (unary, binary, broadcast, strided
// copies, dtype casts), reductions and softmax at sizes a Mamba training step sees. Times: median
// of CUDA-event timings over 30 runs after 5 warm-ups, no autograd. GB/s counts the bytes each op
// must read and write once, against a measured 1 GiB device-to-device copy (read + write).
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench elementwise
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

#include "bench/gpu/bench_util.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/softmax.h"

namespace ssm::bench {

namespace {

void row(const char* name, double bytes, const std::function<void()>& f, double peak) {
  double ms = median_ms(f);
  double gbs = bytes / (ms * 1e-3) / 1e9;
  std::printf("%-52s %9.3f ms %8.0f GB/s %5.0f%%\n", name, ms, gbs, 100.0 * gbs / peak);
}

}  // namespace

void elementwise_section() {
  NoGradGuard ng;
  const Device gpu = Device::cuda(0);
  double peak = copy_bandwidth();
  std::printf("device-to-device copy (1 GiB): %.0f GB/s\n\n", peak);
  Generator g(1);
  const int64_t n = int64_t(64) << 20;  // 64 Mi elements
  Tensor xf = Tensor::randn({n}, DType::f32, &g).to(gpu);
  Tensor xb = xf.to(DType::bf16), yb = mul(xb, 0.5);
  Tensor yf = mul(xf, 0.5);
  row("silu fwd, 64M bf16", 4.0 * n, [&] { silu(xb); }, peak);
  row("silu fwd, 64M f32", 8.0 * n, [&] { silu(xf); }, peak);
  row("exp fwd, 64M f32", 8.0 * n, [&] { exp(xf); }, peak);
  row("mul, 64M bf16", 6.0 * n, [&] { mul(xb, yb); }, peak);
  row("add, 64M f32", 12.0 * n, [&] { add(xf, yf); }, peak);
  Tensor x3 = xb.view({8, 2048, 4096});
  Tensor bias = Tensor::randn({4096}, DType::bf16, &g).to(gpu);
  row("add (8,2048,4096) + (4096) bf16", 4.0 * n, [&] { add(x3, bias); }, peak);
  row("to(f32) 64M bf16", 6.0 * n, [&] { xb.to(DType::f32); }, peak);
  Tensor xt = xb.view({8192, 8192});
  row("transpose(0,1).contiguous() (8192,8192) bf16", 4.0 * n, [&] { xt.t().contiguous(); }, peak);
  row("fill_ 64M f32", 4.0 * n, [&] { xf.fill_(1.0); }, peak);

  Tensor r = Tensor::randn({8 * 2048, 768}, DType::f32, &g).to(gpu);
  double rb = 4.0 * double(r.numel());
  row("sum dim -1 of (16384, 768) f32", rb, [&] { sum(r, {-1}); }, peak);
  row("sum dim 0 of (16384, 768) f32", rb, [&] { sum(r, {0}); }, peak);
  row("max dim -1 of (16384, 768) f32", rb, [&] { max(r, {-1}); }, peak);
  row("sum of 64M f32", 4.0 * n, [&] { sum(xf); }, peak);
  Tensor lg = Tensor::randn({2048, 50280}, DType::bf16, &g).to(gpu);
  double lb = 2.0 * 2.0 * double(lg.numel());
  row("softmax dim -1 of (2048, 50280) bf16", lb, [&] { softmax(lg, -1); }, peak);
  row("log_softmax dim -1 of (16384, 768) f32", 2 * rb, [&] { log_softmax(r, -1); }, peak);
  }

}  // namespace ssm::bench
