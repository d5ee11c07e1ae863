// GPU benchmark of the S4D layer (section "s4d" of ssm_gpu_bench), float32, at the issue's
// reference shapes: B 16, H 256, N 64 (32 complex modes), L = 1k / 4k / 16k.
//   vandermonde fwd / fwd+bwd   the kernel K (H, L) alone (ops/vandermonde.h), and its backward
//                               of C, dt and A for a random upstream gradient
//   s4d fwd / fwd+bwd           the whole mixer (nn/s4d.h) on x (B, L, H): kernel, FFT
//                               convolution, skip, GELU, 1x1 conv + GLU; fwd+bwd backpropagates a
//                               random gradient into x and every parameter
//   s4d tf32 fwd+bwd            the same with the 1x1 conv in TF32 (SSM_ALLOW_TF32), as the
//                               reference's nn.Conv1d runs it: PyTorch lets cuDNN convolutions
//                               use TF32 by default (torch.backends.cudnn.allow_tf32 = True)
// Reference (issue 16): the official S4D layer with its Vandermonde CUDA extension on one H100,
// median forward+backward 3.21 / 3.51 / 12.9 ms; target 3x faster. Times: median of CUDA-event
// timings over 30 runs after 5 warm-ups.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench s4d
#include <cuda_runtime.h>

#include <cstdio>
#include <vector>

#include "bench/gpu/bench_util.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s4d.h"
#include "ops/elementwise.h"
#include "ops/join.h"
#include "ops/matmul.h"
#include "ops/vandermonde.h"

namespace ssm::bench {

void s4d_section() {
  const int64_t B = 16, H = 256, N = 64;
  const double ref_fb[] = {3.21, 3.51, 12.9};
  const int64_t lengths[] = {1024, 4096, 16384};
  std::printf("### S4D layer, float32, B %lld, H %lld, N %lld\n\n", (long long)B, (long long)H,
              (long long)N);
  std::printf("| L | vandermonde fwd ms | vandermonde fwd+bwd ms | s4d fwd ms | s4d fwd+bwd ms | "
              "s4d tf32 fwd+bwd ms | reference fwd+bwd ms | speed-up | speed-up tf32 |\n"
              "|---|---|---|---|---|---|---|---|---|\n");
  Generator g(16);
  nn::S4dConfig cfg;
  cfg.d_model = H;
  cfg.d_state = N;
  cfg.dtype = DType::f32;
  nn::S4d layer(cfg, g);
  layer.to(Device::cuda());
  for (int i = 0; i < 3; ++i) {
    const int64_t L = lengths[i];
    Tensor dt = exp(layer.log_dt).detach();
    Tensor A = stack({neg(exp(layer.log_A_real)), layer.A_imag}, -1).detach();
    Tensor C = layer.C.detach().view({1, H, N / 2, 2});
    double kf = median_ms([&] {
      NoGradGuard ng;
      Tensor K = vandermonde(C, dt, A, L);
    });
    Tensor Cl = C.detach().requires_grad_(true), dtl = dt.detach().requires_grad_(true),
           Al = A.detach().requires_grad_(true);
    Tensor gk = Tensor::randn({1, H, L}, DType::f32, &g).to(Device::cuda());
    double kfb = median_ms([&] { vandermonde(Cl, dtl, Al, L).backward(gk); });
    Tensor x = Tensor::randn({B, L, H}, DType::f32, &g).to(Device::cuda());
    double f = median_ms([&] {
      NoGradGuard ng;
      Tensor y = layer.forward(x);
    });
    Tensor xl = x.detach().requires_grad_(true);
    Tensor gy = Tensor::randn({B, L, H}, DType::f32, &g).to(Device::cuda());
    double fb = median_ms([&] { layer.forward(xl).backward(gy); });
    const bool tf32 = cuda::allow_tf32();
    cuda::set_allow_tf32(true);
    double fb32 = median_ms([&] { layer.forward(xl).backward(gy); });
    cuda::set_allow_tf32(tf32);
    std::printf("| %lld | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f | %.2fx | %.2fx |\n", (long long)L,
                kf, kfb, f, fb, fb32, ref_fb[i], ref_fb[i] / fb, ref_fb[i] / fb32);
  }
}

}  // namespace ssm::bench
