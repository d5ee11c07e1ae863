// GPU benchmark of S4 (section "s4" of ssm_gpu_bench), float32, forward + backward at the issue's
// reference shapes: batch 16, H 256, N 64 (32 complex modes), L = 1k / 4k / 16k (l_max = L).
//
// Two scopes, labelled:
//   fftconv_gelu  the reference figures' scope (issue 16: the official S4 with its Cauchy CUDA
//                 extension, "FFTConv + GELU", on an H100: 4.12 / 4.54 / 15.1 ms; target 3x
//                 faster): kernel generation (Cauchy + Woodbury + irfft), FFT convolution, the D
//                 skip and GELU (one long_conv), with the gradients of u and every kernel
//                 parameter and D. No output linear: the work of s4.py's FFTConv, here on the
//                 models' channels-last u (B, L, H) (the reference's transposed=True takes
//                 (B, H, L); neither transposes), as tools/s4_torch_bench.py times.
//   mixer         the whole `s4` mixer on (B, L, H): the above plus the GLU output linear
//                 (H -> 2H) and its gradients. Not comparable with the reference figures.
// Times: median of CUDA-event timings.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench s4
#include <cstdio>

#include "bench/gpu/bench_util.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s4.h"
#include "ops/elementwise.h"
#include "ops/long_conv.h"

namespace ssm::bench {

namespace {

// s4.py's FFTConv, eval (no dropout): u (B, L, H) -> GELU(K * u + D u).
Tensor fftconv_gelu(const nn::S4& s4, const Tensor& u) {
  const int64_t L = u.size(1), H = u.size(2);
  Tensor k = s4.kernel->forward(L).select(0, 0);  // (H, L)
  return long_conv(u, k, s4.D.view({H}));
}

}  // namespace

void s4_section() {
  const int64_t B = 16, H = 256, N = 64;
  const int64_t lengths[] = {1024, 4096, 16384};
  const double ref_ms[] = {4.12, 4.54, 15.1};
  std::printf("## S4, float32, forward + backward, (B, H, N) = (%ld, %ld, %ld)\n\n", long(B),
              long(H), long(N));
  std::printf("| L | scope | fwd ms | fwd+bwd ms | ref H100 ms (FFTConv + GELU) | ref / ours | target ms (ref / 3) |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- |\n");
  for (int i = 0; i < 3; ++i) {
    const int64_t L = lengths[i];
    nn::S4Config c;
    c.d_model = H;
    c.d_state = N;
    c.l_max = L;
    Generator g(1);
    nn::S4 s4(c, g);
    s4.to(Device::cuda());
    s4.eval();
    {  // the reference's scope
      Tensor u = Tensor::randn({B, L, H}, DType::f32, &g).to(Device::cuda()).requires_grad_(true);
      Tensor gy = Tensor::randn({B, L, H}, DType::f32, &g).to(Device::cuda());
      double fwd = median_ms([&] {
        NoGradGuard ng;
        Tensor y = fftconv_gelu(s4, u);
      }, 3, 10);
      double fb = median_ms([&] {
        u.zero_grad();
        s4.zero_grad();
        Tensor y = fftconv_gelu(s4, u);
        y.backward(gy);
      }, 3, 10);
      std::printf("| %ld | fftconv_gelu | %.3f | %.3f | %.2f | %.2f | %.2f |\n", long(L), fwd, fb,
                  ref_ms[i], ref_ms[i] / fb, ref_ms[i] / 3);
    }
    {  // the whole mixer
      Tensor x = Tensor::randn({B, L, H}, DType::f32, &g).to(Device::cuda()).requires_grad_(true);
      Tensor gy = Tensor::randn({B, L, H}, DType::f32, &g).to(Device::cuda());
      double fwd = median_ms([&] {
        NoGradGuard ng;
        Tensor y = s4.forward(x);
      }, 3, 10);
      double fb = median_ms([&] {
        x.zero_grad();
        s4.zero_grad();
        Tensor y = s4.forward(x);
        y.backward(gy);
      }, 3, 10);
      std::printf("| %ld | mixer | %.3f | %.3f | - | - | - |\n", long(L), fwd, fb);
    }
    std::fflush(stdout);
  }
  std::printf("\n");
}

}  // namespace ssm::bench
