// layer_norm / rms_norm / add_rms_norm / add_layer_norm on CUDA against the float64 CPU op: rows
// longer than a block (D not a multiple of 32), many rows (weight/bias gradients over many row
// blocks), non-contiguous input; for the fused adds also the mixed dtypes of autocast.
#include <tuple>

#include "ops/norm.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using NormCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed, double mean = 0) {
  Generator g(seed);
  Tensor t = Tensor::randn(s, DType::f64, &g);
  if (mean == 0) return t;
  std::vector<double> v = t.to_vector<double>();
  for (double& x : v) x += mean;
  return Tensor::from_vector(v, s);
}

Tol tol_for(DType dt) {
  // float32: sums over up to 20000 rows for the weight gradient
  return dt == DType::f64 ? Tol{1e-10, 1e-9} : dt == DType::f32 ? Tol{1e-3, 1e-4, 1e-5} : default_tol(dt);
}

TEST_F(NormCuda, LayerNorm) {
  auto ln = [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); };
  auto ln0 = [](const std::vector<Tensor>& in) { return layer_norm(in[0]); };
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    check_dense(ln, {rn({3, 41, 1537}, 1, 2.0), rn({1537}, 2), rn({1537}, 3)}, dt, tol_for(dt), 4);
    check_dense(ln, {rn({5000, 64}, 5), rn({64}, 6), rn({64}, 7)}, dt, tol_for(dt), 8);
    check_dense(ln0, {rn({7, 3}, 9)}, dt, tol_for(dt), 10);
    check_dense(ln, {rn({6, 33, 40}, 11), rn({40}, 12), rn({40}, 13)}, dt, tol_for(dt), 14, true, {0});
  }
}

TEST_F(NormCuda, RmsNorm) {
  auto rms = [](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-6); };
  auto rms0 = [](const std::vector<Tensor>& in) { return rms_norm(in[0]); };
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    check_dense(rms, {rn({2, 300, 768}, 21), rn({768}, 22)}, dt, tol_for(dt), 23);
    check_dense(rms, {rn({20000, 24}, 24), rn({24}, 25)}, dt, tol_for(dt), 26);
    check_dense(rms0, {rn({9, 2561}, 27)}, dt, tol_for(dt), 28);
    check_dense(rms, {rn({6, 33, 40}, 29), rn({40}, 30)}, dt, tol_for(dt), 31, true, {0});
  }
}

// One add_rms_norm case: x in `dt`, the residual in `rdt`, the weight in `wdt` (each dt or
// float32), r in float32 when fp32 (residual_in_fp32). `grad_y` / `grad_r`: which outputs get an
// upstream gradient (the last norm of a model has none on r).
struct AddRmsCase {
  Shape shape;
  DType dt, rdt, wdt;
  bool fp32 = true, residual = true, weight = true, grad_y = true, grad_r = true;
  bool noncontig = false;  // x and residual laid out transposed in their last two dims
  bool layer = false;      // add_layer_norm (with a bias in wdt) instead of add_rms_norm
};

// The GPU op against the CPU op on the same (dtype-rounded) inputs and upstream gradients: y, r
// and the gradients of x, residual and weight, each judged by the bound of its own dtype. The
// CPU reference runs in float64, except where r itself is 16-bit (no residual_in_fp32): that
// rounding of r feeds y and the weight gradient, whose sum over rows then differs from the
// float64 one by far more than a 16-bit bound where terms cancel (measured on an H200: 0.015 at
// an element of 0.015), so those cases compare with the CPU op run in the same dtypes.
void check_add_rms(const AddRmsCase& c, uint64_t seed) {
  SCOPED_TRACE(std::string(c.layer ? "add_layer_norm" : "add_rms_norm") + ", x " + dtype_name(c.dt) + ", residual " + dtype_name(c.rdt) +
               ", weight " + dtype_name(c.wdt) + (c.fp32 ? ", residual_in_fp32" : "") +
               (c.residual ? "" : ", no residual") + (c.weight ? "" : ", no weight"));
  const Device gpu = Device::cuda(0);
  const int64_t D = c.shape.back();
  DType out_rdt = c.fp32 ? compute_dtype(c.dt) : c.residual ? c.rdt : c.dt;
  Tensor x = rn(c.shape, seed).to(c.dt).to(DType::f64);
  Tensor res = rn(c.shape, seed + 1).to(c.rdt).to(DType::f64);
  Tensor w = rn({D}, seed + 2, 1.0).to(c.wdt).to(DType::f64);
  Tensor bias = rn({D}, seed + 5).to(c.wdt).to(DType::f64);
  Tensor gy = rn(c.shape, seed + 3).to(c.dt).to(DType::f64);
  Tensor gr = rn(c.shape, seed + 4).to(out_rdt).to(DType::f64);

  auto run = [&](const Tensor& x0, const Tensor& r0, const Tensor& w0, const Tensor& b0,
                 const Tensor& gy0, const Tensor& gr0) {
    Tensor xl = x0.detach().requires_grad_(), rl = r0.detach().requires_grad_();
    Tensor wl = w0.detach().requires_grad_(), bl = b0.detach().requires_grad_();
    auto [y, r] = c.layer ? add_layer_norm(xl, c.residual ? rl : Tensor(), c.weight ? wl : Tensor(),
                                           bl, 1e-5, c.fp32)
                          : add_rms_norm(xl, c.residual ? rl : Tensor(), c.weight ? wl : Tensor(),
                                         1e-5, c.fp32);
    std::vector<Tensor> roots, grads;
    if (c.grad_y) {
      roots.push_back(y);
      grads.push_back(gy0);
    }
    if (c.grad_r) {
      roots.push_back(r);
      grads.push_back(gr0);
    }
    run_backward(roots, grads, false);
    return std::vector<Tensor>{y, r, xl.grad(), c.residual ? rl.grad() : Tensor(),
                               c.weight ? wl.grad() : Tensor(), c.layer ? bl.grad() : Tensor()};
  };
  auto to_gpu = [&](const Tensor& t, DType dt) {
    Tensor h = t.to(dt);
    return c.noncontig && t.dim() >= 2 ? h.transpose(-1, -2).contiguous().to(gpu).transpose(-1, -2)
                                       : h.contiguous().to(gpu);
  };
  const bool r16 = !c.fp32 && dtype_size(out_rdt) == 2;
  std::vector<Tensor> ref = r16 ? run(x.to(c.dt), res.to(c.rdt), w.to(c.wdt), bias.to(c.wdt),
                                      gy.to(c.dt), gr.to(out_rdt))
                                : run(x, res, w, bias, gy, gr);
  std::vector<Tensor> got = run(to_gpu(x, c.dt), to_gpu(res, c.rdt), w.to(c.wdt).to(gpu),
                                bias.to(c.wdt).to(gpu), gy.to(c.dt).to(gpu), gr.to(out_rdt).to(gpu));
  const char* names[] = {"y", "r", "dx", "dresidual", "dweight", "dbias"};
  DType want[] = {c.dt, out_rdt, c.dt, c.rdt, c.wdt, c.wdt};
  for (size_t k = 0; k < ref.size(); ++k) {
    SCOPED_TRACE(names[k]);
    if (!ref[k].defined()) continue;
    ASSERT_TRUE(got[k].defined()) << "no result on CUDA";
    EXPECT_EQ(got[k].device(), gpu);
    EXPECT_EQ(got[k].dtype(), want[k]);
    EXPECT_CLOSE(got[k].detach().cpu().to(DType::f64), ref[k].detach().to(DType::f64), tol_for(want[k]));
  }
}

TEST_F(NormCuda, AddRmsNorm) {
  const DType f64 = DType::f64, f32 = DType::f32, bf16 = DType::bf16, f16 = DType::f16;
  uint64_t seed = 100;
  // The Mamba-130M training step under bf16 autocast: 8 x 2048 tokens, D = 768, bf16 mixer
  // output, float32 residual stream and float32 weight; the weight gradient over 16 rows per
  // chunk, 1024 chunks.
  check_add_rms({.shape = {16384, 768}, .dt = bf16, .rdt = f32, .wdt = f32}, seed += 10);
  // The first layer (no residual yet), and the final norm (no gradient on r).
  check_add_rms({.shape = {2, 300, 768}, .dt = bf16, .rdt = f32, .wdt = f32, .residual = false},
                seed += 10);
  check_add_rms({.shape = {2, 300, 768}, .dt = bf16, .rdt = f32, .wdt = f32, .grad_r = false},
                seed += 10);
  check_add_rms({.shape = {2, 300, 768}, .dt = bf16, .rdt = f32, .wdt = f32, .grad_y = false},
                seed += 10);
  for (DType dt : {f64, f32}) {
    check_add_rms({.shape = {16384, 768}, .dt = dt, .rdt = dt, .wdt = dt}, seed += 10);
    // odd D over several 256-thread strides, 1 row per chunk
    check_add_rms({.shape = {9, 2561}, .dt = dt, .rdt = dt, .wdt = dt, .fp32 = false}, seed += 10);
    check_add_rms({.shape = {7, 3}, .dt = dt, .rdt = dt, .wdt = dt, .weight = false}, seed += 10);
    check_add_rms({.shape = {6, 33, 40}, .dt = dt, .rdt = dt, .wdt = dt, .noncontig = true},
                  seed += 10);
  }
  // Rows too long for the weight-gradient accumulators in 47 KB of shared memory (float64,
  // D > 6016; float32, D > 12032): they accumulate in global memory, 3 rows per chunk here.
  check_add_rms({.shape = {2100, 6200}, .dt = f64, .rdt = f64, .wdt = f64}, seed += 10);
  check_add_rms({.shape = {5, 13000}, .dt = f32, .rdt = f32, .wdt = f32}, seed += 10);
  // 16-bit everything (r rounded to 16 bits: against the CPU in 16 bits, see check_add_rms), and 16-bit x with a
  // 16-bit weight on a float32 stream.
  for (DType dt : {bf16, f16}) {
    check_add_rms({.shape = {9, 2561}, .dt = dt, .rdt = dt, .wdt = dt, .fp32 = false}, seed += 10);
    check_add_rms({.shape = {3, 41, 130}, .dt = dt, .rdt = f32, .wdt = dt, .noncontig = true},
                  seed += 10);
    check_add_rms({.shape = {3, 41, 130}, .dt = dt, .rdt = f32, .wdt = f32, .fp32 = false},
                  seed += 10);
  }
  // The warp-per-row kernels (D a multiple of 8 up to 1024, lanes holding 8 columns per group of
  // 256): a partial last group with rows not a multiple of the block's 8 warps; f16 with a 16-bit
  // weight; a 16-bit stream; no weight; D = 8 over 4100 rows (9 rows per block, uneven per warp).
  check_add_rms({.shape = {3, 7, 1000}, .dt = bf16, .rdt = f32, .wdt = f32}, seed += 10);
  check_add_rms({.shape = {21, 264}, .dt = f16, .rdt = f32, .wdt = f16}, seed += 10);
  check_add_rms({.shape = {5, 512}, .dt = bf16, .rdt = bf16, .wdt = bf16, .fp32 = false}, seed += 10);
  check_add_rms({.shape = {13, 256}, .dt = f32, .rdt = f32, .wdt = f32, .weight = false}, seed += 10);
  check_add_rms({.shape = {4100, 8}, .dt = bf16, .rdt = f32, .wdt = f32}, seed += 10);
}

// add_layer_norm: the same kernels with the mean taken out and a bias; a Transformer block's
// shape in bf16 on a float32 stream (warp per row), D = 1000 (a partial last lane group), rows
// longer than the warp kernels take (block per row), float64 and a 16-bit stream.
TEST_F(NormCuda, AddLayerNorm) {
  const DType f64 = DType::f64, f32 = DType::f32, bf16 = DType::bf16, f16 = DType::f16;
  uint64_t seed = 500;
  check_add_rms({.shape = {8, 512, 768}, .dt = bf16, .rdt = f32, .wdt = f32, .layer = true}, seed += 10);
  check_add_rms({.shape = {3, 7, 1000}, .dt = bf16, .rdt = f32, .wdt = f32, .residual = false, .layer = true},
                seed += 10);
  check_add_rms({.shape = {2, 300, 768}, .dt = bf16, .rdt = f32, .wdt = f32, .grad_r = false, .layer = true},
                seed += 10);
  check_add_rms({.shape = {9, 2561}, .dt = f32, .rdt = f32, .wdt = f32, .fp32 = false, .layer = true},
                seed += 10);
  check_add_rms({.shape = {21, 264}, .dt = f16, .rdt = f32, .wdt = f16, .weight = false, .layer = true},
                seed += 10);
  check_add_rms({.shape = {6, 33, 40}, .dt = f64, .rdt = f64, .wdt = f64, .noncontig = true, .layer = true},
                seed += 10);
  check_add_rms({.shape = {5, 512}, .dt = bf16, .rdt = bf16, .wdt = bf16, .fp32 = false, .layer = true},
                seed += 10);
}

}  // namespace
}  // namespace ssm::testing
