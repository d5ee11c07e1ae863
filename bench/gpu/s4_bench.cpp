// GPU benchmark of the S4 mixer (section "s4" of ssm_gpu_bench), float32, forward + backward at
// the reference shapes: batch 16, H 256, N 64 (32 complex modes), L = 1k / 4k / 16k
// (l_max = L), the mixer as a whole (kernel by Cauchy + Woodbury, FFT convolution, GELU, GLU
// output linear) with the gradients of its input and every parameter.
// Reference (issue 16): the official S4 with its Cauchy CUDA extension (FFTConv + GELU) on an
// H100, 4.12 / 4.54 / 15.1 ms; target 3x faster. Times: median of CUDA-event timings.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench s4
#include <cstdio>

#include "bench/gpu/bench_util.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s4.h"

namespace ssm::bench {

void s4_section() {
  const int64_t B = 16, H = 256, N = 64;
  const int64_t lengths[] = {1024, 4096, 16384};
  const double ref_ms[] = {4.12, 4.54, 15.1};
  std::printf("## S4 mixer, float32, forward + backward, (B, H, N) = (%ld, %ld, %ld)\n\n", long(B),
              long(H), long(N));
  std::printf("| L | fwd ms | fwd+bwd ms | ref H100 ms | ref / ours | target ms (ref / 3) |\n");
  std::printf("| --- | --- | --- | --- | --- | --- |\n");
  for (int i = 0; i < 3; ++i) {
    const int64_t L = lengths[i];
    nn::S4Config c;
    c.d_model = H;
    c.d_state = N;
    c.l_max = L;
    Generator g(1);
    nn::S4 s4(c, g);
    s4.to(Device::cuda());
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
    std::printf("| %ld | %.3f | %.3f | %.2f | %.2f | %.2f |\n", long(L), fwd, fb, ref_ms[i],
                ref_ms[i] / fb, ref_ms[i] / 3);
    std::fflush(stdout);
  }
  std::printf("\n");
}

}  // namespace ssm::bench
