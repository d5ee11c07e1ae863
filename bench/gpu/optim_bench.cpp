// GPU benchmark of the fused multi-tensor AdamW (ops/optim.h) over the parameters of a
// Mamba-130M (d_model 768, 24 layers, d_inner 1536, d_state 16, dt_rank 48, vocab 50280, tied
// embedding: 129M parameters in 218 tensors), and of the global gradient norm + clipping scale.
//
// AdamW moves per parameter: p, g, m, v read and p, m, v written: 28 bytes with float32 grads,
// 26 with bfloat16 grads. The norm reads each gradient once (4 bytes), the scale reads and
// writes it (8). GB/s counts those bytes, against a measured device-to-device copy (1 GiB, read
// + written). Times: median of CUDA-event timings over 30 runs after 5 warm-ups.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench optim
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "bench/gpu/bench_util.h"
#include "core/cuda/runtime.h"
#include "core/tensor.h"
#include "ops/optim.h"

namespace ssm::bench {

namespace {

std::vector<Shape> mamba_130m() {
  std::vector<Shape> s = {{50280, 768}};
  for (int l = 0; l < 24; ++l) {
    for (Shape x : {Shape{3072, 768}, Shape{1536, 1, 4}, Shape{1536}, Shape{80, 1536}, Shape{1536, 48},
                    Shape{1536}, Shape{1536, 16}, Shape{1536}, Shape{768, 1536}})
      s.push_back(x);
    s.push_back({768});  // norm
  }
  s.push_back({768});  // final norm
  return s;
}

}  // namespace

void optim_section() {
  Device dev = Device::cuda(0);
  std::vector<Shape> shapes = mamba_130m();
  std::vector<Tensor> p, g32, g16, m, v;
  int64_t n = 0;
  for (const Shape& s : shapes) {
    p.push_back(Tensor::zeros(s, DType::f32, dev).fill_(0.5));
    g32.push_back(Tensor::zeros(s, DType::f32, dev).fill_(0.01));
    g16.push_back(Tensor::zeros(s, DType::bf16, dev).fill_(0.01));
    m.push_back(Tensor::zeros(s, DType::f32, dev));
    v.push_back(Tensor::zeros(s, DType::f32, dev));
    n += p.back().numel();
  }
  std::vector<double> lr(shapes.size(), 1e-3), wd(shapes.size(), 0.1);
  std::printf("fused AdamW, Mamba-130M: %lld parameters in %zu tensors\n", (long long)n, shapes.size());

  size_t bytes = size_t(1) << 30;
  void* a = ssm::cuda::alloc(bytes, 0);
  void* b = ssm::cuda::alloc(bytes, 0);
  double copy_ms = median_ms([&] { ck(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, 0), "copy"); });
  double copy_gbs = 2.0 * double(bytes) / copy_ms / 1e6;
  std::printf("%-34s %8.3f ms  %7.0f GB/s\n", "d2d copy 1 GiB (reference)", copy_ms, copy_gbs);

  int64_t step = 0;
  auto report = [&](const char* name, double ms, double bytes_per_param) {
    double gbs = bytes_per_param * double(n) / ms / 1e6;
    std::printf("%-34s %8.3f ms  %7.0f GB/s  (%.0f%% of copy)\n", name, ms, gbs, 100 * gbs / copy_gbs);
  };
  report("adamw_step_ f32 params, f32 grads",
         median_ms([&] { adamw_step_(p, g32, m, v, lr, wd, 0.9, 0.999, 1e-8, ++step); }), 28);
  report("adamw_step_ f32 params, bf16 grads",
         median_ms([&] { adamw_step_(p, g16, m, v, lr, wd, 0.9, 0.999, 1e-8, ++step); }), 26);
  report("global_grad_norm (f32 grads)", median_ms([&] { global_grad_norm(g32); }), 4);
  report("scale_ (f32 grads)", median_ms([&] { scale_(g32, 1.0); }), 8);
  ssm::cuda::dealloc(a, 0);
  ssm::cuda::dealloc(b, 0);
}

}  // namespace ssm::bench
