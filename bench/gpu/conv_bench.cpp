// GPU benchmark of the Mamba model's dense ops (section "dense" of ssm_gpu_bench), bfloat16:
//
//   causal_conv1d + SiLU at (B, D, L, W) = (8, 1536, 2048, 4), x channel-last (B, L, D), with
//     bias; fwd (no autograd) and fwd+bwd (autograd forward, then backward of x, weight and
//     bias). Reference: the official causal-conv1d on an H100 (0.150 ms fwd, 0.491 ms fwd+bwd);
//     target 1.5x faster. GB/s counts x and y once (fwd), plus x, g and dx (bwd).
//   linear at Mamba-130M's in_proj shape: (16384, 768) @ (768, 3072) (no bias), TFLOP/s =
//     2 M N K / time; fwd+bwd adds dx and dW (3 GEMMs); a decoding step's M = 1 product; float32
//     in full precision and with TF32.
//   rms_norm (16384, 768) and cross_entropy (8192, 50280) fwd and fwd+bwd, GB/s.
//   add_rms_norm (16384, 768) as the model runs it under autocast: bf16 x, float32 residual
//     stream and weight; fwd and fwd+bwd (gradients into both outputs), GB/s counting x,
//     residual, y and r once (fwd) plus r, gy, gr, dx and dresidual (bwd); next to it the
//     unfused add + rms_norm in the same dtypes, its GB/s counted with the fused op's bytes, and
//     add_layer_norm with a float32 bias (the same bytes counted).
// Times: median of CUDA-event timings over 30 runs after 5 warm-ups.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench dense
#include <cuda_runtime.h>

#include <cstdio>
#include <utility>
#include <vector>

#include "bench/gpu/bench_util.h"
#include "core/autograd.h"
#include "core/rng.h"
#include "ops/causal_conv1d.h"
#include "ops/cross_entropy.h"
#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "ops/norm.h"

namespace ssm::bench {

namespace {

Tensor dev_randn(const Shape& shape, DType dt, Generator& g, double scale = 1.0) {
  Tensor t = Tensor::randn(shape, DType::f32, &g);
  if (scale != 1.0) {
    std::vector<float> v = t.to_vector<float>();
    for (float& x : v) x *= float(scale);
    t = Tensor::from_vector(v, shape);
  }
  return t.to(dt).to(Device::cuda());
}

void conv_rows(Generator& g) {
  const int64_t B = 8, D = 1536, L = 2048, W = 4;
  const double ref_fwd = 0.150, ref_fb = 0.491;
  Tensor normal = Tensor::randn({int64_t(1) << 24}, DType::f32, &g).to(DType::bf16);
  Tensor x = tiled({B, L, D}, normal), gout = tiled({B, L, D}, normal);
  Tensor w = dev_randn({D, W}, DType::bf16, g, 0.5), b = dev_randn({D}, DType::bf16, g, 0.1);
  double fwd = median_ms([&] {
    NoGradGuard ng;
    Tensor y = causal_conv1d(x, w, b, true);
  });
  Tensor xl = x.detach().requires_grad_(true), wl = w.detach().requires_grad_(true),
         bl = b.detach().requires_grad_(true);
  double fb = median_ms([&] {
    xl.zero_grad();
    wl.zero_grad();
    bl.zero_grad();
    Tensor y = causal_conv1d(xl, wl, bl, true);
    y.backward(gout);
  });
  double bld = double(B * L * D) * 2;
  std::printf("## causal_conv1d + SiLU, bfloat16, (B, D, L, W) = (%ld, %ld, %ld, %ld)\n\n", long(B),
              long(D), long(L), long(W));
  std::printf("| pass | ms | GB/s | ref H100 ms | ref / ours | target ms (ref / 1.5) |\n");
  std::printf("| --- | --- | --- | --- | --- | --- |\n");
  std::printf("| fwd | %.4f | %.0f | %.3f | %.2f | %.3f |\n", fwd, gbs(2 * bld, fwd), ref_fwd,
              ref_fwd / fwd, ref_fwd / 1.5);
  std::printf("| fwd+bwd | %.4f | %.0f | %.3f | %.2f | %.3f |\n\n", fb, gbs(5 * bld, fb), ref_fb,
              ref_fb / fb, ref_fb / 1.5);
  std::fflush(stdout);
}

void gemm_rows(Generator& g) {
  const int64_t M = 16384, K = 768, N = 3072;
  std::printf("## linear at Mamba-130M's in_proj: (%ld, %ld) @ (%ld, %ld)\n\n", long(M), long(K),
              long(K), long(N));
  std::printf("| case | ms | TFLOP/s |\n| --- | --- | --- |\n");
  double flop = 2.0 * double(M) * double(N) * double(K);
  for (DType dt : {DType::bf16, DType::f32}) {
    Tensor x = dev_randn({M, K}, dt, g), w = dev_randn({N, K}, dt, g, 0.03);
    Tensor gy = dev_randn({M, N}, dt, g);
    for (bool tf32 : {false, true}) {
      if (dt != DType::f32 && tf32) continue;
      cuda::set_allow_tf32(tf32);
      double ms = median_ms([&] {
        NoGradGuard ng;
        Tensor y = linear(x, w);
      });
      const char* name = dt == DType::bf16 ? "bfloat16" : tf32 ? "float32, TF32" : "float32";
      std::printf("| %s fwd | %.4f | %.0f |\n", name, ms, flop / (ms * 1e-3) / 1e12);
      if (dt == DType::bf16) {
        Tensor xl = x.detach().requires_grad_(true), wl = w.detach().requires_grad_(true);
        double fb = median_ms([&] {
          xl.zero_grad();
          wl.zero_grad();
          Tensor y = linear(xl, wl);
          y.backward(gy);
        });
        std::printf("| %s fwd+bwd (3 GEMMs) | %.4f | %.0f |\n", name, fb, 3 * flop / (fb * 1e-3) / 1e12);
        Tensor x1 = dev_randn({1, K}, dt, g);
        double dec = median_ms([&] {
          NoGradGuard ng;
          Tensor y = linear(x1, w);
        }, 20, 200);
        std::printf("| %s decode (1, %ld) @ (%ld, %ld) | %.4f | %.0f GB/s of weight |\n", name,
                    long(K), long(K), long(N), dec, gbs(double(N * K) * 2, dec));
      }
    }
    cuda::set_allow_tf32(false);
  }
  std::printf("\n");
  std::fflush(stdout);
}

void norm_ce_rows(Generator& g) {
  std::printf("## rms_norm, add_rms_norm, add_layer_norm and cross_entropy, bfloat16\n\n| op | fwd ms | fwd GB/s | fwd+bwd ms | fwd+bwd GB/s |\n"
              "| --- | --- | --- | --- | --- |\n");
  {
    const int64_t R = 16384, D = 768;
    Tensor x = dev_randn({R, D}, DType::bf16, g), w = dev_randn({D}, DType::bf16, g);
    Tensor gy = dev_randn({R, D}, DType::bf16, g);
    double fwd = median_ms([&] {
      NoGradGuard ng;
      Tensor y = rms_norm(x, w);
    });
    Tensor xl = x.detach().requires_grad_(true), wl = w.detach().requires_grad_(true);
    double fb = median_ms([&] {
      xl.zero_grad();
      wl.zero_grad();
      Tensor y = rms_norm(xl, wl);
      y.backward(gy);
    });
    double bytes = double(R * D) * 2;
    std::printf("| rms_norm (%ld, %ld) | %.4f | %.0f | %.4f | %.0f |\n", long(R), long(D), fwd,
                gbs(2 * bytes, fwd), fb, gbs(5 * bytes, fb));
  }
  {
    const int64_t R = 8 * 2048, D = 768;
    Tensor x = dev_randn({R, D}, DType::bf16, g), res = dev_randn({R, D}, DType::f32, g);
    Tensor w = dev_randn({D}, DType::f32, g);
    Tensor gy = dev_randn({R, D}, DType::bf16, g), gr = dev_randn({R, D}, DType::f32, g);
    Tensor xl = x.detach().requires_grad_(true), rl = res.detach().requires_grad_(true);
    Tensor wl = w.detach().requires_grad_(true);
    // Bytes per element: fwd reads x (2) and the residual (4), writes y (2) and r (4); bwd reads
    // r (4), gy (2), gr (4), writes dx (2) and dresidual (4).
    double n = double(R * D);
    // kind 0: add_rms_norm, 1: add + rms_norm unfused, 2: add_layer_norm (a float32 bias too:
    // its gradient is one more column sum of gy).
    Tensor bias = dev_randn({D}, DType::f32, g), bl = bias.detach().requires_grad_(true);
    for (int kind : {0, 1, 2}) {
      auto op = [&](const Tensor& xi, const Tensor& ri, const Tensor& wi) {
        if (kind == 0) return add_rms_norm(xi, ri, wi, 1e-5, true);
        if (kind == 2) return add_layer_norm(xi, ri, wi, bl, 1e-5, true);
        Tensor r = add(ri, xi);
        return std::pair<Tensor, Tensor>{rms_norm(r, wi, 1e-5).to(DType::bf16), r};
      };
      double fwd = median_ms([&] {
        NoGradGuard ng;
        auto out = op(x, res, w);
      });
      double fb = median_ms([&] {
        xl.zero_grad();
        rl.zero_grad();
        wl.zero_grad();
        bl.zero_grad();
        auto [y, r] = op(xl, rl, wl);
        std::vector<Tensor> roots{y, r}, grads{gy, gr};
        run_backward(roots, grads, false);
      });
      const char* names[] = {"add_rms_norm", "add + rms_norm, unfused", "add_layer_norm"};
      std::printf("| %s (%ld, %ld), bf16 x, f32 residual and weight | %.4f | %.0f | %.4f | %.0f |\n",
                  names[kind], long(R), long(D), fwd, gbs(12 * n, fwd), fb, gbs(28 * n, fb));
    }
  }
  {
    const int64_t M = 8192, C = 50280;
    Tensor logits = dev_randn({M, C}, DType::bf16, g);
    Tensor tgt = Tensor::randint({M}, 0, C, DType::i64, &g).to(Device::cuda());
    double fwd = median_ms([&] {
      NoGradGuard ng;
      Tensor l = cross_entropy(logits, tgt);
    });
    Tensor ll = logits.detach().requires_grad_(true);
    double fb = median_ms([&] {
      ll.zero_grad();
      Tensor l = cross_entropy(ll, tgt);
      l.backward();
    });
    double bytes = double(M * C) * 2;
    std::printf("| cross_entropy (%ld, %ld) | %.4f | %.0f | %.4f | %.0f |\n", long(M), long(C), fwd,
                gbs(bytes, fwd), fb, gbs(3 * bytes, fb));
  }
  std::fflush(stdout);
}

}  // namespace

void dense_section() {
  cudaDeviceProp prop{};
  ck(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  std::printf("# dense ops, CUDA (%s, %d SMs)\n\n", prop.name, prop.multiProcessorCount);
  Generator g(7);
  conv_rows(g);
  gemm_rows(g);
  norm_ce_rows(g);
}

}  // namespace ssm::bench
