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
// (1 GiB, bytes read + written). Four more tables sweep the launch shapes (states per thread x
// time segments) of the forward and of the backward, the backward's slices per block (warps, 4
// states each: the states per pass), and the chunk (steps between saved states).
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench scan
//   SSM_BENCH_SWEEP=0 ./build/bench/ssm_gpu_bench scan     # the first table only
//   SSM_BENCH_SWEEP=slices,chunk ./build/bench/ssm_gpu_bench scan   # some sweeps: fwd, bwd,
//                                                                  # slices, chunk
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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

// Time-segment counts the launch-shape sweeps try.
constexpr int kSegList[] = {1, 2, 3, 4, 5, 6, 8};
constexpr int kSegs = int(sizeof kSegList / sizeof kSegList[0]);

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
  struct Sweep {
    std::string name;
    double fwd[4][kSegs];  // [2, 4, 8, 16 states per thread][kSegList segments]
    double fb[3][kSegs];   // [2, 4, 8 backward states per thread][kSegList backward segments]
    double chunk[4];   // fwd+bwd at chunk 16, 32, 64, 128
    double slices[4];  // fwd+bwd with at most 1, 2, 4, 8 backward slices per block
  };
  std::vector<Sweep> sweeps;
  // SSM_BENCH_SWEEP: unset or 1, every sweep; 0, the main table only (a quick check of one
  // change); else a comma-separated list of fwd, bwd, slices, chunk.
  const char* sw_env = std::getenv("SSM_BENCH_SWEEP");
  const std::string sw_list = sw_env ? sw_env : "1";
  const bool sweep = sw_list != "0";
  auto want = [&](const char* what) {
    return sw_list == "1" ||
           ("," + sw_list + ",").find(std::string(",") + what + ",") != std::string::npos;
  };
  for (const Config& c : configs) {
    Inputs in = make(c, normal, small);
    SelectiveScanOptions o;  // zoh, softplus, chunk 64
    const double bld = double(c.B * c.L * c.D) * 2, bln = double(c.B * c.L * c.N) * 2;
    const double fwd_bytes = 4 * bld + 2 * bln;
    const double bwd_bytes = 4 * bld + 2 * bln + 3 * bld + 2 * bln;

    // One forward (no autograd) and one forward + backward, timed by the main table and the
    // sweeps alike.
    Tensor leaves[8] = {in.u, in.delta, in.A, in.Bm, in.Cm, in.Dskip, in.z, in.bias};
    for (Tensor& t : leaves) t = t.detach().requires_grad_(true);
    Tensor gout = tiled({c.B, c.L, c.D}, normal);
    auto fwd_once = [&] {
      NoGradGuard ng;
      Tensor out = selective_scan(in.u, in.delta, in.A, in.Bm, in.Cm, in.Dskip, in.z, in.bias, o);
    };
    auto fwd_bwd_once = [&](const SelectiveScanOptions& oo) {
      for (Tensor& t : leaves) t.zero_grad();
      Tensor out = selective_scan(leaves[0], leaves[1], leaves[2], leaves[3], leaves[4], leaves[5],
                                  leaves[6], leaves[7], oo);
      out.backward(gout);
    };
    double fwd = median_ms(fwd_once);
    double fb = median_ms([&] { fwd_bwd_once(o); });

    char name[96];
    std::snprintf(name, sizeof name, "(%ld, %ld, %ld, %ld)", long(c.B), long(c.D), long(c.L), long(c.N));
    std::printf("| %s | %.3f | %.0f | %.3f | %.2f | %.3f | %.0f | %.2f | %.2f |\n", name, fwd,
                gbs(fwd_bytes, fwd), c.ref_fwd, fwd / c.ref_fwd, fb, gbs(fwd_bytes + bwd_bytes, fb),
                c.ref_fwd_bwd, fb / c.ref_fwd_bwd);
    std::fflush(stdout);

    // The launch shapes: register tiling x time segments (cuda::ScanTuning), forward alone and
    // forward + backward (backward tilings; the forward at the op's pick).
    Sweep sw{name, {}, {}, {}, {}};
    if (!sweep) continue;
    auto fwd_bwd = [&](const SelectiveScanOptions& oo) {
      return median_ms([&] { fwd_bwd_once(oo); }, 3, 15);
    };
    for (int ti = 0; ti < 4 && want("fwd"); ++ti)
      for (int si = 0; si < kSegs; ++si) {
        cuda::set_scan_tuning({2 << ti, 0, kSegList[si], 0});
        sw.fwd[ti][si] = median_ms(fwd_once, 3, 15);
      }
    for (int ti = 0; ti < 3 && want("bwd"); ++ti)
      for (int si = 0; si < kSegs; ++si) {
        cuda::set_scan_tuning({0, 2 << ti, 0, kSegList[si]});
        sw.fb[ti][si] = fwd_bwd(o);
      }
    for (int si = 0; si < 4 && want("slices"); ++si) {
      cuda::set_scan_tuning({0, 0, 0, 0, 1 << si});
      sw.slices[si] = fwd_bwd(o);
    }
    cuda::set_scan_tuning({});
    // The chunk (steps between the states the forward keeps): the backward re-runs the forward
    // inside each chunk from its saved state, so a shorter chunk saves work and costs memory.
    for (int ci = 0; ci < 4 && want("chunk"); ++ci) {
      SelectiveScanOptions oc = o;
      oc.chunk = 16 << ci;
      sw.chunk[ci] = fwd_bwd(oc);
    }
    for (Tensor& t : leaves) t.zero_grad();
    sweeps.push_back(sw);
  }
  if (!sweep) return;
  // One tiling x segments table: `tiles` rows per shape, cell(w, ti, si) in ms.
  auto print_sweep = [&](const char* title, int tiles, auto cell) {
    std::printf("%s\n\n| batch, d_inner, length, d_state | tile |", title);
    for (int si = 0; si < kSegs; ++si) std::printf(" %d seg |", kSegList[si]);
    std::printf("\n| --- | --- |");
    for (int si = 0; si < kSegs; ++si) std::printf(" --- |");
    std::printf("\n");
    for (const Sweep& w : sweeps)
      for (int ti = 0; ti < tiles; ++ti) {
        std::printf("| %s | %d |", w.name.c_str(), 2 << ti);
        for (int si = 0; si < kSegs; ++si) std::printf(" %.3f |", cell(w, ti, si));
        std::printf("\n");
      }
  };
  if (want("fwd"))
    print_sweep("\nfwd ms by states per thread x time segments (cuda::ScanTuning; the table above "
                "uses the op's own pick):",
                4, [](const Sweep& w, int ti, int si) { return w.fwd[ti][si]; });
  if (want("bwd"))
    print_sweep("\nfwd+bwd ms by backward states per thread x backward time segments:", 3,
                [](const Sweep& w, int ti, int si) { return w.fb[ti][si]; });
  // One row per shape: fwd+bwd ms for four settings.
  auto print_row4 = [&](const char* title, const char* cols, auto cell) {
    std::printf("\n%s\n\n| batch, d_inner, length, d_state | %s |\n", title, cols);
    std::printf("| --- | --- | --- | --- | --- |\n");
    for (const Sweep& w : sweeps)
      std::printf("| %s | %.3f | %.3f | %.3f | %.3f |\n", w.name.c_str(), cell(w, 0), cell(w, 1),
                  cell(w, 2), cell(w, 3));
  };
  if (want("slices"))
    print_row4("fwd+bwd ms by the backward's most slices per block (4 states each; fewer slices, "
               "more passes over the states):", "1 | 2 | 4 | 8",
               [](const Sweep& w, int i) { return w.slices[i]; });
  if (want("chunk"))
    print_row4("fwd+bwd ms by chunk (steps between the states the forward keeps for backward):",
               "16 | 32 | 64 | 128", [](const Sweep& w, int i) { return w.chunk[i]; });
  cuda::AllocatorStats s = cuda::allocator_stats(0);
  std::printf("\nallocator: %zu cudaMalloc calls, peak %.2f GiB in use, %.2f GiB cached\n",
              size_t(s.cuda_mallocs), double(s.peak_in_use) / double(1 << 30),
              double(s.cached) / double(1 << 30));
}

}  // namespace ssm::bench
