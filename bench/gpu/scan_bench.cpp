// GPU benchmark of the CUDA selective scan, bfloat16, at the sizes the official mamba_ssm kernels
// were timed at (PyTorch + mamba_ssm on an H100; those figures are printed beside ours).
//
//   fwd      selective_scan with no autograd (inference: no states kept)
//   fwd+bwd  forward with autograd, then backward of every input
// Inputs as a Mamba block produces them: u, delta, z, B, C in bfloat16, A, D, Δ bias in float32;
// Δ = softplus(delta + bias) with delta ~ N(0, 0.3²) and bias = softplus⁻¹ of a log-uniform draw
// in [1e-3, 0.1]; A[d, n] = -(n + 1); u, B, C, z ~ N(0, 1); D = 1; zoh; chunk 64.
// Times: median of CUDA-event timings over 30 runs after 5 warm-ups. GB/s counts the bytes of the
// op's inputs and outputs once (fwd: u, delta, z, B, C in, out; bwd adds gout in and du, ddelta,
// dz, dB, dC out; A, D and the bias are negligible), against a measured device-to-device copy
// (1 GiB, bytes read + written). A second table times the forward's register tilings.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench scan
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "ops/cuda/selective_scan_cuda.h"
#include "ops/elementwise.h"
#include "ops/selective_scan.h"
#include "bench/gpu/bench_util.h"

namespace ssm::bench {

namespace {

struct Config {
  int64_t B, D, L, N;
  double ref_fwd, ref_fwd_bwd;  // ms, PyTorch + mamba_ssm on an H100
};

struct Inputs {
  Tensor u, delta, A, Bm, Cm, Dskip, z, bias;
};

Inputs make(const Config& c, const Tensor& normal, const Tensor& small) {
  Generator g(5);
  Inputs in;
  in.u = tiled({c.B, c.L, c.D}, normal);
  in.delta = tiled({c.B, c.L, c.D}, small);
  in.z = tiled({c.B, c.L, c.D}, normal);
  in.Bm = tiled({c.B, c.L, c.N}, normal);
  in.Cm = tiled({c.B, c.L, c.N}, normal);
  std::vector<float> a(size_t(c.D * c.N)), bias(size_t(c.D));
  for (int64_t d = 0; d < c.D; ++d)
    for (int64_t n = 0; n < c.N; ++n) a[size_t(d * c.N + n)] = -float(n + 1);
  std::vector<double> r = Tensor::rand({c.D}, DType::f64, &g).to_vector<double>();
  for (int64_t d = 0; d < c.D; ++d) {
    double dt = std::exp(std::log(1e-3) + r[size_t(d)] * (std::log(0.1) - std::log(1e-3)));
    bias[size_t(d)] = float(dt + std::log(-std::expm1(-dt)));  // softplus⁻¹
  }
  in.A = Tensor::from_vector(a, {c.D, c.N}).to(Device::cuda());
  in.Dskip = Tensor::ones({c.D}, DType::f32).to(Device::cuda());
  in.bias = Tensor::from_vector(bias, {c.D}).to(Device::cuda());
  return in;
}

}  // namespace

void scan_section() {
  cudaDeviceProp prop{};
  ck(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
  const double copy_gbs = copy_bandwidth();

  Generator g(1);
  const int64_t pool_n = int64_t(1) << 24;
  Tensor normal = Tensor::randn({pool_n}, DType::f32, &g).to(DType::bf16);
  Tensor small = mul(Tensor::randn({pool_n}, DType::f32, &g), 0.3).to(DType::bf16);

  const Config configs[] = {{8, 1536, 2048, 16, 0.466, 2.56},
                            {2, 1536, 8192, 16, 0.634, 2.77},
                            {8, 1536, 2048, 64, 1.58, 8.77},
                            {8, 5120, 2048, 16, 1.55, 8.02}};

  std::printf("# selective scan, bfloat16, CUDA (%s, %d SMs)\n\n", prop.name, prop.multiProcessorCount);
  std::printf("device-to-device copy: %.0f GB/s (1 GiB, read + write)\n\n", copy_gbs);
  std::printf("| batch, d_inner, length, d_state | fwd ms | fwd GB/s | ref fwd ms | fwd ours/ref "
              "| fwd+bwd ms | fwd+bwd GB/s | ref fwd+bwd ms | fwd+bwd ours/ref |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  struct Tiles {
    std::string name;
    double ms[3];  // 4, 8, 16 states per thread
  };
  std::vector<Tiles> tiles;
  for (const Config& c : configs) {
    Inputs in = make(c, normal, small);
    SelectiveScanOptions o;  // zoh, softplus, chunk 64
    const double bld = double(c.B * c.L * c.D) * 2, bln = double(c.B * c.L * c.N) * 2;
    const double fwd_bytes = 4 * bld + 2 * bln;
    const double bwd_bytes = 4 * bld + 2 * bln + 3 * bld + 2 * bln;

    double fwd = median_ms([&] {
      NoGradGuard ng;
      Tensor out = selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.Dskip, in.z, in.bias, o);
    });

    Tensor leaves[8] = {in.u, in.delta, in.A, in.Bm, in.Cm, in.Dskip, in.z, in.bias};
    for (Tensor& t : leaves) t = t.detach().requires_grad_(true);
    Tensor gout = tiled({c.B, c.L, c.D}, normal);
    double fb = median_ms([&] {
      for (Tensor& t : leaves) t.zero_grad();
      Tensor out = selective_scan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5],
                                  leaves[6], leaves[7], o);
      out.backward(gout);
    });
    for (Tensor& t : leaves) t.zero_grad();

    char name[96];
    std::snprintf(name, sizeof name, "(%ld, %ld, %ld, %ld)", long(c.B), long(c.D), long(c.L), long(c.N));
    std::printf("| %s | %.3f | %.0f | %.3f | %.2f | %.3f | %.0f | %.2f | %.2f |\n", name, fwd,
                gbs(fwd_bytes, fwd), c.ref_fwd, fwd / c.ref_fwd, fb, gbs(fwd_bytes + bwd_bytes, fb),
                c.ref_fwd_bwd, fb / c.ref_fwd_bwd);
    std::fflush(stdout);

    // The forward's register tilings, through the plain launcher.
    cuda::ScanProblem p;
    p.B = c.B, p.L = c.L, p.D = c.D, p.N = c.N, p.chunk = o.chunk;
    const Tensor* ts[8] = {&in.u, &in.delta, &in.A, &in.Bm, &in.Cm, &in.Dskip, &in.z, &in.bias};
    cuda::ScanArg* as[8] = {&p.u, &p.delta, &p.A, &p.Bm, &p.Cm, &p.Dskip, &p.z, &p.bias};
    for (int i = 0; i < 8; ++i) {
      as[i]->p = ts[i]->raw_data();
      as[i]->dtype = ts[i]->dtype();
      for (int k = 0; k < ts[i]->dim(); ++k) as[i]->s[k] = ts[i]->stride(k);
    }
    Tensor out = Tensor::empty({c.B, c.L, c.D}, DType::bf16, Device::cuda());
    cuda::ScanForward f;
    f.out = out.raw_data();
    f.out_dtype = DType::bf16;
    Tiles t{name, {}};
    for (int i = 0; i < 3; ++i) {
      f.state_tile = 4 << i;
      t.ms[i] = median_ms([&] { cuda::selective_scan_forward(p, f); });
    }
    tiles.push_back(t);
  }
  std::printf("\nfwd ms by states per thread (the op picks the most that give >= 16 warps per SM):\n\n");
  std::printf("| batch, d_inner, length, d_state | 4 states | 8 states | 16 states |\n"
              "| --- | --- | --- | --- |\n");
  for (const Tiles& t : tiles)
    std::printf("| %s | %.3f | %.3f | %.3f |\n", t.name.c_str(), t.ms[0], t.ms[1], t.ms[2]);
  cuda::AllocatorStats s = cuda::allocator_stats(0);
  std::printf("\nallocator: %zu cudaMalloc calls, peak %.2f GiB in use, %.2f GiB cached\n",
              size_t(s.cuda_mallocs), double(s.peak_in_use) / double(1 << 30),
              double(s.cached) / double(1 << 30));
}

}  // namespace ssm::bench
