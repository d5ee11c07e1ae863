// GPU benchmark of the S5 SSM (the part lindermanlab/S5's S5SSM computes: discretization, B̄u,
// the scan, 2 Re(C̃x) + Du; not the half-GLU after it), float32, at the shapes the reference JAX
// S5 SSM was timed at on an H100: batch 16, H 256, P 256 conjugate symmetric, where P is S5's
// ssm_size_base, our d_state N: 128 complex modes stored (N/2). Reference figures (ms, JAX on an
// H100) are printed beside ours; the target is half of them.
//   fwd      no autograd
//   fwd+bwd  forward with autograd, then backward of the input and every parameter
//   tf32     the same with the two projections in TF32 (SSM_ALLOW_TF32), as the reference ran
//            them: JAX computes float32 matmuls on the GPU in TF32 unless told otherwise
//            (jax_default_matmul_precision)
// Times: median of CUDA-event timings over 30 runs after 5 warm-ups.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench s5
#include <cstdio>

#include "bench/gpu/bench_util.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "nn/s5.h"
#include "ops/diag_scan.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"

namespace ssm::bench {

namespace {

struct Config {
  int64_t L;
  double ref_fwd, ref_fwd_bwd;  // ms, JAX S5 SSM on an H100
};

Tensor ssm_forward(const nn::S5& m, const Tensor& u) {
  Tensor lambda_bar, b_bar;
  m.discretize(lambda_bar, b_bar);
  const int64_t B = u.size(0), L = u.size(1), M = lambda_bar.size(0);
  Tensor bu = linear(u, nn::S5::input_weight(b_bar)).view({B, L, M, 2});
  Tensor xs = diag_scan(lambda_bar, bu);
  return add(linear(xs.view({B, L, 2 * M}), m.output_weight()), mul(u, m.D));
}

}  // namespace

void s5_section() {
  const int64_t B = 16, H = 256, N = 256;
  const Config configs[] = {{1024, 0.29, 1.10}, {4096, 0.91, 2.59}, {16384, 2.37, 7.89}};
  Generator g(3);
  nn::S5Config cfg;
  cfg.d_model = H;
  cfg.d_state = N;
  nn::S5 m(cfg, g);
  m.to(Device::cuda());
  Tensor pool = Tensor::randn({int64_t(1) << 24}, DType::f32, &g);
  std::printf("\n### S5 SSM, float32, batch %lld, H %lld, d_state N %lld (%lld complex modes)\n\n",
              (long long)B, (long long)H, (long long)N, (long long)(N / 2));
  std::printf("| L | fwd ms | tf32 fwd ms | JAX fwd ms | fwd+bwd ms | tf32 fwd+bwd ms | JAX fwd+bwd ms |\n"
              "|---|---|---|---|---|---|---|\n");
  for (const Config& c : configs) {
    Tensor u = tiled({B, c.L, H}, pool);
    Tensor gout = tiled({B, c.L, H}, pool);
    Tensor ug = u.detach().requires_grad_(true);
    double fwd[2], fb[2];
    const bool tf32 = cuda::allow_tf32();
    for (int t = 0; t < 2; ++t) {
      cuda::set_allow_tf32(t == 1);
      fwd[t] = median_ms([&] {
        NoGradGuard ng;
        ssm_forward(m, u);
      });
      fb[t] = median_ms([&] {
        ssm_forward(m, ug).backward(gout);
        m.zero_grad();
        ug.zero_grad();
      });
    }
    cuda::set_allow_tf32(tf32);
    std::printf("| %lld | %.3f | %.3f | %.2f | %.3f | %.3f | %.2f |\n", (long long)c.L, fwd[0],
                fwd[1], c.ref_fwd, fb[0], fb[1], c.ref_fwd_bwd);
  }
}

}  // namespace ssm::bench
