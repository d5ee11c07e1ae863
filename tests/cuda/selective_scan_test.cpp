// The CUDA selective scan against the CPU op: float64 on both sides for the exact semantics
// (every discretization, with and without z, D, Δ bias, softplus; N = 1 to 300; D not a multiple
// of 32; L not a multiple of the chunk), then float32 and bfloat16 against the float64 CPU result
// on the same (rounded) inputs. Every run draws fresh random inputs, and every device allocation
// is poisoned with NaN first, so an output or gradient element the kernels fail to write fails.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

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
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

constexpr const char* kNames[8] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};

class CudaScan : public ::ssm::testing::GpuTest<> {};

struct Inputs {
  Tensor t[8];  // u, delta, A, B, C, D, z, delta_bias
};

struct Flags {
  bool z = true, D = true, bias = true, softplus = true;
};

uint64_t g_seed = 1000;  // every call draws fresh inputs

Inputs make(int64_t b, int64_t l, int64_t d, int64_t n, Flags f = {}) {
  Generator g(g_seed++);
  Inputs in;
  in.t[0] = Tensor::randn({b, l, d}, DType::f64, &g);
  in.t[1] = mul(Tensor::randn({b, l, d}, DType::f64, &g), 0.5);
  // Without softplus, dt = delta + bias is used as it is: keep it a positive step (a negative one
  // makes the recurrence grow and the comparison ill-conditioned, not wrong).
  if (!f.softplus) in.t[1] = add(softplus(in.t[1]), 0.05);
  in.t[2] = neg(exp(mul(Tensor::randn({d, n}, DType::f64, &g), 0.5)));
  in.t[3] = Tensor::randn({b, l, n}, DType::f64, &g);
  in.t[4] = Tensor::randn({b, l, n}, DType::f64, &g);
  if (f.D) in.t[5] = Tensor::randn({d}, DType::f64, &g);
  if (f.z) in.t[6] = Tensor::randn({b, l, d}, DType::f64, &g);
  if (f.bias) in.t[7] = mul(Tensor::randn({d}, DType::f64, &g), f.softplus ? 0.3 : 0.02);
  return in;
}

// Rounds every input to `dt` (a CPU copy); `to_f64` then gives the exact values back in float64.
Inputs cast(const Inputs& in, DType dt) {
  Inputs r;
  for (int i = 0; i < 8; ++i)
    if (in.t[i].defined()) r.t[i] = in.t[i].to(dt);
  return r;
}

Inputs on(const Inputs& in, Device dev) {
  Inputs r;
  for (int i = 0; i < 8; ++i)
    if (in.t[i].defined()) r.t[i] = in.t[i].to(dev);
  return r;
}

struct Result {
  Tensor out, fin, grad[8];  // float64 on the CPU
};

// Forward (with the final state) and, when gout is set, backward; inputs' device decides.
Result run(const Inputs& in, const SelectiveScanOptions& o, const Tensor& gout) {
  Tensor x[8];
  for (int i = 0; i < 8; ++i) {
    if (!in.t[i].defined()) continue;
    x[i] = in.t[i].detach();
    if (gout.defined()) x[i].requires_grad_(true);
  }
  Result r;
  Tensor fin;
  Tensor out = selective_scan(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], o, &fin);
  if (gout.defined()) out.backward(gout.to(out.dtype()).to(out.device()));
  NoGradGuard ng;
  r.out = out.detach().cpu().to(DType::f64);
  r.fin = fin.cpu().to(DType::f64);
  for (int i = 0; i < 8; ++i)
    if (x[i].defined() && gout.defined()) r.grad[i] = x[i].grad().cpu().to(DType::f64);
  return r;
}

// ‖a − e‖ / ‖e‖, or infinity when a holds a NaN or an infinity.
double rel_rms(const Tensor& a, const Tensor& e) {
  auto av = a.to_vector<double>(), ev = e.to_vector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < av.size(); ++i) {
    if (!std::isfinite(av[i])) return INFINITY;
    num += (av[i] - ev[i]) * (av[i] - ev[i]);
    den += ev[i] * ev[i];
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

void expect_same(const Result& gpu, const Result& cpu, Tol tol) {
  {
    SCOPED_TRACE("out");
    EXPECT_CLOSE(gpu.out, cpu.out, tol);
  }
  {
    SCOPED_TRACE("final state");
    EXPECT_CLOSE(gpu.fin, cpu.fin, tol);
  }
  for (int i = 0; i < 8; ++i) {
    SCOPED_TRACE(std::string("gradient of ") + kNames[i]);
    EXPECT_EQ(gpu.grad[i].defined(), cpu.grad[i].defined());
    if (gpu.grad[i].defined() && cpu.grad[i].defined()) EXPECT_CLOSE(gpu.grad[i], cpu.grad[i], tol);
  }
}

void expect_rel(const Result& gpu, const Result& cpu, double bound, const std::string& what) {
  double worst = rel_rms(gpu.out, cpu.out);
  EXPECT_LE(rel_rms(gpu.out, cpu.out), bound) << what << ": out";
  EXPECT_LE(rel_rms(gpu.fin, cpu.fin), bound) << what << ": final state";
  for (int i = 0; i < 8; ++i) {
    if (!cpu.grad[i].defined()) continue;
    ASSERT_TRUE(gpu.grad[i].defined()) << what << ": gradient of " << kNames[i];
    double e = rel_rms(gpu.grad[i], cpu.grad[i]);
    worst = std::max(worst, e);
    EXPECT_LE(e, bound) << what << ": gradient of " << kNames[i];
  }
  std::printf("[ relerr   ] %-48s worst %.2e (bound %.0e)\n", what.c_str(), worst, bound);
}

const Tol kF64{1e-9, 1e-7};  // float64 on both sides: only the order of sums differs

std::vector<SelectiveScanOptions> all_discretizations(int64_t chunk) {
  return {{.discretization = Discretization::zoh, .chunk = chunk},
          {.discretization = Discretization::zoh_exact, .chunk = chunk},
          {.discretization = Discretization::bilinear, .chunk = chunk},
          {.discretization = Discretization::generalized_bilinear, .alpha = 0.7, .chunk = chunk}};
}

std::string label(const SelectiveScanOptions& o, Flags f) {
  std::string s = discretization_name(o.discretization);
  s += f.z ? " z" : " -z";
  s += f.D ? " D" : " -D";
  s += f.bias ? " bias" : " -bias";
  s += f.softplus ? " softplus" : " -softplus";
  return s;
}

TEST_F(CudaScan, Float64MatchesCpuForEveryOption) {
  for (const SelectiveScanOptions& base : all_discretizations(8)) {
    for (int mask = 0; mask < 16; ++mask) {
      Flags f{bool(mask & 1), bool(mask & 2), bool(mask & 4), bool(mask & 8)};
      SelectiveScanOptions o = base;
      o.delta_softplus = f.softplus;
      SCOPED_TRACE(label(o, f));
      Inputs in = make(2, 37, 45, 16, f);  // 45 channels: a partial 32-channel group
      Tensor gout = Tensor::randn({2, 37, 45}, DType::f64);
      expect_same(run(on(in, Device::cuda()), o, gout), run(in, o, gout), kF64);
    }
  }
}

TEST_F(CudaScan, Float64MatchesCpuForEveryShape) {
  struct Shape4 {
    int64_t b, l, d, n, chunk;
  };
  // N = 1; N = 64 with L shorter than the chunk; N = 80 and 300 (several passes over the
  // states); chunks that do not divide L; long enough for several chunks and sub-chunks.
  for (Shape4 s : {Shape4{2, 37, 45, 1, 8}, Shape4{1, 50, 70, 64, 64}, Shape4{2, 41, 40, 80, 16},
                   Shape4{1, 20, 35, 300, 7}, Shape4{1, 200, 33, 16, 64}, Shape4{3, 9, 5, 3, 1}}) {
    for (const SelectiveScanOptions& o : all_discretizations(s.chunk)) {
      for (bool all : {true, false}) {
        Flags f{all, all, all, all};
        SelectiveScanOptions oo = o;
        oo.delta_softplus = f.softplus;
        SCOPED_TRACE("B " + std::to_string(s.b) + " L " + std::to_string(s.l) + " D " +
                     std::to_string(s.d) + " N " + std::to_string(s.n) + " chunk " +
                     std::to_string(s.chunk) + " " + label(oo, f));
        Inputs in = make(s.b, s.l, s.d, s.n, f);
        Tensor gout = Tensor::randn({s.b, s.l, s.d}, DType::f64);
        expect_same(run(on(in, Device::cuda()), oo, gout), run(in, oo, gout), kF64);
      }
    }
  }
}

// Float32 arithmetic (fast exp) lands far under 1e-3 in relative RMS error; bfloat16 inputs,
// outputs and gradients carry 8 mantissa bits, so their error sits between 1e-3 and 1e-2.
// N = 16 (both ways) and 64 (forward) with zoh take the variants specialised for 4 slices and,
// in bfloat16, the ones for bfloat16 activations: with D a multiple of 4 (44: a partial second
// group of 32 channels) the forward's stage 4 channels at a time; D = 70 keeps the forward on the
// general path, while the backward (a channel per lane) takes its bfloat16 variant there too.
TEST_F(CudaScan, LowPrecisionAgainstFloat64Cpu) {
  for (DType dt : {DType::f32, DType::bf16}) {
    const double bound = dt == DType::f32 ? 1e-4 : 1e-2;
    for (const SelectiveScanOptions& o : all_discretizations(16)) {
      for (int64_t d : {70, 44}) {
        for (int64_t n : {16, 64, 80}) {
          Inputs in = cast(make(2, 100, d, n), dt);
          Inputs ref = cast(in, DType::f64);
          Tensor gout = Tensor::randn({2, 100, d}, DType::f64).to(dt);
          Result g = run(on(in, Device::cuda()), o, gout);
          Result c = run(ref, o, gout.to(DType::f64));
          expect_rel(g, c, bound,
                     std::string(dtype_name(dt)) + " " + discretization_name(o.discretization) +
                         " D " + std::to_string(d) + " N " + std::to_string(n));
        }
      }
    }
  }
}

// Mamba's usual mix: activations in bfloat16, A, D and the Δ bias in float32; and strided views
// (B and C as slices of one projection, u as a transpose, u and z as halves of one), which the
// kernels read in place.
TEST_F(CudaScan, MixedDtypesAndStridedInputs) {
  Inputs in = make(2, 60, 50, 16);
  Inputs mixed;
  for (int i : {0, 1, 3, 4, 6}) mixed.t[i] = in.t[i].to(DType::bf16);
  for (int i : {2, 5, 7}) mixed.t[i] = in.t[i].to(DType::f32);
  SelectiveScanOptions o{.chunk = 16};
  Tensor gout = Tensor::randn({2, 60, 50}, DType::f64).to(DType::bf16);
  expect_rel(run(on(mixed, Device::cuda()), o, gout), run(cast(mixed, DType::f64), o, gout), 1e-2,
             "bf16 activations, f32 parameters");

  Inputs dev = on(in, Device::cuda());
  Tensor proj = Tensor::randn({2, 60, 2 * 16 + 3}, DType::f64);  // (B, L, R + 2N)
  Tensor ut = in.t[0].transpose(1, 2).contiguous();               // (B, D, L)
  Inputs strided = in;
  strided.t[0] = ut.transpose(1, 2);
  strided.t[3] = proj.narrow(2, 3, 16);
  strided.t[4] = proj.narrow(2, 19, 16);
  strided.t[2] = in.t[2].t().contiguous().t();
  Inputs strided_dev = dev;
  strided_dev.t[0] = ut.to(Device::cuda()).transpose(1, 2);
  Tensor proj_dev = proj.to(Device::cuda());
  strided_dev.t[3] = proj_dev.narrow(2, 3, 16);
  strided_dev.t[4] = proj_dev.narrow(2, 19, 16);
  strided_dev.t[2] = in.t[2].t().contiguous().to(Device::cuda()).t();
  ASSERT_FALSE(strided_dev.t[0].is_contiguous());
  ASSERT_FALSE(strided_dev.t[3].is_contiguous());
  Tensor g64 = Tensor::randn({2, 60, 50}, DType::f64);
  expect_same(run(strided_dev, o, g64), run(strided, o, g64), kF64);

  // Mamba's own layout, which the bfloat16 variants stage 4 channels at a time: u and z the two
  // halves of one bf16 (B, L, 2D) projection (rows 2D apart, z at offset D), B and C slices of
  // another, D = 48 (a multiple of 4, a partial second group of 32 channels).
  const int64_t D = 48;
  Inputs base = make(2, 60, D, 16);
  Tensor xz = Tensor::randn({2, 60, 2 * D}, DType::f64).to(DType::bf16).to(Device::cuda());
  Tensor bc = Tensor::randn({2, 60, 2 * 16 + 3}, DType::f64).to(DType::bf16).to(Device::cuda());
  Inputs m;
  m.t[0] = xz.narrow(2, 0, D);
  m.t[6] = xz.narrow(2, D, D);
  m.t[3] = bc.narrow(2, 3, 16);
  m.t[4] = bc.narrow(2, 19, 16);
  m.t[1] = base.t[1].to(DType::bf16).to(Device::cuda());
  for (int i : {2, 5, 7}) m.t[i] = base.t[i].to(DType::f32).to(Device::cuda());
  ASSERT_FALSE(m.t[6].is_contiguous());
  Tensor gm = Tensor::randn({2, 60, D}, DType::f64).to(DType::bf16);
  expect_rel(run(m, o, gm), run(cast(on(m, Device::cpu()), DType::f64), o, gm), 1e-2,
             "Mamba layout, bf16 activations as views of one projection");
}

// Sets the launchers' tuning for one scope (and restores the op's own pick after it).
struct TuningScope {
  explicit TuningScope(const cuda::ScanTuning& t) { cuda::set_scan_tuning(t); }
  ~TuningScope() { cuda::set_scan_tuning({}); }
};

// Every register tiling of the tuned path (float32, zoh) and every time-segment split compute the
// same function, forward and backward: against the float64 CPU, with fresh inputs per case.
// L = 300 with chunk 32 has 10 chunks, so 3 and 7 segments leave a short last segment; N = 80
// takes several passes over the states with every tiling; N = 16 at tiles 4 / 4 runs the
// variants with the slices fixed at compile time.
TEST_F(CudaScan, TilingsAndSegmentsAgree) {
  const int64_t B = 2, L = 300, D = 45;
  const int tiles[4][2] = {{2, 2}, {4, 4}, {8, 8}, {16, 8}};  // forward, backward
  for (int64_t n : {16, 80}) {
    for (const auto& tl : tiles) {
      for (int segs : {1, 2, 3, 7, 10}) {
        const std::string what = "N " + std::to_string(n) + " tiles " + std::to_string(tl[0]) +
                                 "/" + std::to_string(tl[1]) + " segments " + std::to_string(segs);
        SCOPED_TRACE(what);
        TuningScope scope({tl[0], tl[1], segs, segs});
        Inputs in = cast(make(B, L, D, n), DType::f32);
        SelectiveScanOptions o{.chunk = 32};
        Tensor gout = Tensor::randn({B, L, D}, DType::f64).to(DType::f32);
        expect_rel(run(on(in, Device::cuda()), o, gout),
                   run(cast(in, DType::f64), o, gout.to(DType::f64)), 1e-4, what);
      }
    }
  }
  // The generic variant (float64; every discretization) with segments: float64 bounds.
  for (const SelectiveScanOptions& o : all_discretizations(16)) {
    for (int segs : {2, 5}) {
      SCOPED_TRACE(std::string(discretization_name(o.discretization)) + " segments " +
                   std::to_string(segs));
      TuningScope scope({0, 0, segs, segs});
      Inputs in = make(2, 75, 40, 16);
      Tensor gout = Tensor::randn({2, 75, 40}, DType::f64);
      expect_same(run(on(in, Device::cuda()), o, gout), run(in, o, gout), kF64);
    }
  }
}

// Mamba's bfloat16 mix (activations bf16, A, D and the Δ bias float32) with time segments and
// with the backward's states split into passes of 1 to 8 slices: the bfloat16 carry passes (4
// channels staged at a time, Π Ā from Σ dt), the bfloat16 backward variant with 4 slices fixed at
// compile time (the default: N = 64 as 4 passes) and the generic one at 1 and 8 slices (N = 64 at
// 1 slice: 16 passes of 4 states), against the float64 CPU on the same rounded inputs.
TEST_F(CudaScan, BFloat16SegmentsAndSlices) {
  const int64_t B = 2, L = 300, D = 44;
  for (int64_t n : {16, 64}) {
    for (int slices : {0, 1, 4, 8}) {
      for (int segs : {1, 3}) {
        const std::string what = "N " + std::to_string(n) + " slices " + std::to_string(slices) +
                                 " segments " + std::to_string(segs);
        SCOPED_TRACE(what);
        TuningScope scope({0, 0, segs, segs, slices});
        Inputs in = make(B, L, D, n);
        for (int i : {0, 1, 3, 4, 6}) in.t[i] = in.t[i].to(DType::bf16);
        for (int i : {2, 5, 7}) in.t[i] = in.t[i].to(DType::f32);
        SelectiveScanOptions o{.chunk = 32};
        Tensor gout = Tensor::randn({B, L, D}, DType::f64).to(DType::bf16);
        expect_rel(run(on(in, Device::cuda()), o, gout), run(cast(in, DType::f64), o, gout), 1e-2,
                   "bf16 " + what);
      }
    }
  }
}

// The forward's plain launcher: every register tiling, with the saved states and the final state.
// N = 16 at 4 states per thread and N = 64 at 16 take the variants with 4 slices fixed at compile
// time; the others read the slices from the launch.
TEST_F(CudaScan, StateTilesAgree) {
  for (DType dt : {DType::f64, DType::f32}) {
    for (int64_t n : {1, 16, 64, 80, 300}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " N " + std::to_string(n));
      const int64_t B = 2, L = 45, D = 40;
      Inputs in = cast(make(B, L, D, n), dt);
      Inputs dev = on(in, Device::cuda());
      SelectiveScanOptions o{.chunk = 16};
      Tensor ref_fin;
      Tensor ref = selective_scan(in.t[0], in.t[1], in.t[2], in.t[3], in.t[4], in.t[5], in.t[6],
                                  in.t[7], o, &ref_fin);
      for (int tile : {2, 4, 8, 16}) {
        SCOPED_TRACE("state_tile " + std::to_string(tile));
        cuda::ScanProblem p;
        p.B = B, p.L = L, p.D = D, p.N = n, p.chunk = o.chunk, p.f64 = dt == DType::f64;
        p.discretization = 0;
        cuda::ScanArg* args[8] = {&p.u, &p.delta, &p.A, &p.Bm, &p.Cm, &p.Dskip, &p.z, &p.bias};
        for (int i = 0; i < 8; ++i) {
          args[i]->p = dev.t[i].raw_data();
          args[i]->dtype = dt;
          for (int k = 0; k < dev.t[i].dim(); ++k) args[i]->s[k] = dev.t[i].stride(k);
        }
        Tensor out = Tensor::empty({B, L, D}, dt, Device::cuda());
        Tensor fin = Tensor::empty({B, D, n}, dt, Device::cuda());
        Tensor states = Tensor::empty({B, cuda::scan_chunks(p), n, D}, dt, Device::cuda());
        cuda::ScanForward f;
        f.out = out.raw_data();
        f.out_dtype = dt;
        f.states = states.raw_data();
        f.final_state = fin.raw_data();
        f.state_tile = tile;
        cuda::selective_scan_forward(p, f);
        Tol tol = dt == DType::f64 ? kF64 : Tol{1e-4, 1e-4};
        EXPECT_CLOSE(out.cpu(), ref, tol);
        EXPECT_CLOSE(fin.cpu(), ref_fin, tol);
      }
    }
  }
}

TEST_F(CudaScan, ReproducibleRunToRun) {
  Inputs in = on(cast(make(2, 300, 100, 16), DType::f32), Device::cuda());
  SelectiveScanOptions o{.chunk = 32};
  Tensor gout = Tensor::randn({2, 300, 100}, DType::f32);
  Result a = run(in, o, gout), b = run(in, o, gout);
  expect_same(a, b, Tol{0, 0});
}

TEST_F(CudaScan, SteppingEqualsTheCpuStep) {
  for (const SelectiveScanOptions& o : all_discretizations(4)) {
    SCOPED_TRACE(discretization_name(o.discretization));
    const int64_t B = 3, L = 6, D = 37, N = 20;
    Inputs in = make(B, L, D, N);
    Inputs dev = on(in, Device::cuda());
    Tensor s_cpu = Tensor::zeros({B, D, N}, DType::f64);
    Tensor s_gpu = Tensor::zeros({B, D, N}, DType::f64, Device::cuda());
    for (int64_t t = 0; t < L; ++t) {
      auto at = [t](const Tensor& x) { return x.select(1, t); };
      Tensor y_cpu = selective_scan_step(s_cpu, at(in.t[0]), at(in.t[1]), in.t[2], at(in.t[3]),
                                         at(in.t[4]), in.t[5], at(in.t[6]), in.t[7], o);
      Tensor y_gpu = selective_scan_step(s_gpu, at(dev.t[0]), at(dev.t[1]), dev.t[2], at(dev.t[3]),
                                         at(dev.t[4]), dev.t[5], at(dev.t[6]), dev.t[7], o);
      EXPECT_CLOSE(y_gpu.cpu(), y_cpu, kF64);
    }
    EXPECT_CLOSE(s_gpu.cpu(), s_cpu, kF64);
  }
}

TEST_F(CudaScan, PoisonMakesUnwrittenMemoryNaN) {
  // The checks above rely on this: a fresh device tensor reads back as NaN in every float dtype.
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    Tensor t = Tensor::empty({5, 7}, dt, Device::cuda());
    for (double v : t.cpu().to_vector<double>()) EXPECT_TRUE(std::isnan(v)) << dtype_name(dt);
  }
}

}  // namespace
}  // namespace ssm
