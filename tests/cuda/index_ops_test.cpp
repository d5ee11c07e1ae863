// The CUDA gather / index_select / scatter_add, cat / split, cumsum, flip, pad and dropout
// against the CPU ops at sizes the OpInfo samples do not reach: many blocks, odd sizes, long
// scans, many collisions, many cat pieces, 16-bit dtypes. Outputs and input gradients; the CPU
// runs in float64 on the same (rounded) inputs. Device allocations are NaN-poisoned, so an
// element a kernel fails to write fails the comparison.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <functional>
#include <vector>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "ops/cumsum.h"
#include "ops/dropout.h"
#include "ops/flip.h"
#include "ops/index.h"
#include "ops/join.h"
#include "ops/pad.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;
using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

class CudaIndexOps : public ::ssm::testing::GpuTest<> {};

Tensor randn64(const Shape& s, Generator& g) { return Tensor::randn(s, DType::f64, &g); }

// Runs f on the CPU in float64 and on CUDA in `dt` (floating inputs rounded to dt first, so both
// see the same values), with the same random upstream gradients; compares outputs and the
// gradients of the floating inputs.
void check(const Fn& f, const std::vector<Tensor>& inputs, DType dt, Tol tol, Generator& gen,
           bool grads = true) {
  std::vector<Tensor> cpu_in, gpu_in;
  for (const Tensor& x : inputs) {
    if (is_floating(x.dtype())) {
      Tensor r = x.to(dt).to(DType::f64);
      cpu_in.push_back(r.clone().requires_grad_(grads));
      gpu_in.push_back(x.to(dt).to(Device::cuda(0)).requires_grad_(grads));
    } else {
      cpu_in.push_back(x);
      gpu_in.push_back(x.to(Device::cuda(0)));
    }
  }
  std::vector<Tensor> ref = f(cpu_in), got = f(gpu_in);
  ASSERT_EQ(ref.size(), got.size());
  std::vector<Tensor> roots_c, roots_g, gs_c, gs_g;
  for (size_t k = 0; k < ref.size(); ++k) {
    SCOPED_TRACE("output " + std::to_string(k));
    ASSERT_EQ(got[k].device(), Device::cuda(0));
    // split's outputs are views: flip with no dims is a strided copy on the device.
    Tensor gk = got[k].detach();
    gk = (gk.is_contiguous() ? gk : flip(gk, {})).cpu();
    EXPECT_CLOSE(is_floating(gk.dtype()) ? gk.to(DType::f64) : gk, ref[k], tol);
    if (grads && ref[k].requires_grad()) {
      Tensor v = Tensor::randn(ref[k].shape(), DType::f64, &gen).to(dt);
      roots_c.push_back(ref[k]);
      gs_c.push_back(v.to(DType::f64));
      roots_g.push_back(got[k]);
      gs_g.push_back(v.to(Device::cuda(0)));
    }
  }
  if (roots_c.empty()) return;
  run_backward(roots_c, gs_c, false);
  run_backward(roots_g, gs_g, false);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!cpu_in[i].grad().defined()) continue;
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    ASSERT_TRUE(gpu_in[i].grad().defined()) << "no gradient on CUDA";
    EXPECT_CLOSE(gpu_in[i].grad().cpu().to(DType::f64), cpu_in[i].grad(), tol);
  }
}

// Sums over at most a few thousand terms.
constexpr Tol kF64{1e-12, 1e-12};
constexpr Tol kExact{0, 0};
// bf16 results of sums: the CUDA side rounds its float32 sum once, as the CPU does.
constexpr Tol kBf16{2e-2, 1e-2};

TEST_F(CudaIndexOps, GatherAndIndexSelectWithManyCollisions) {
  Generator g(1);
  Fn gather0 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{gather(in[0], 0, in[1])}; };
  Fn gather1 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{gather(in[0], 1, in[1])}; };
  Fn select0 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{index_select(in[0], 0, in[1])}; };
  for (DType dt : {DType::f64, DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tol tol = dt == DType::bf16 ? kBf16 : dt == DType::f32 ? Tol{1e-5, 1e-5} : kF64;
    check(gather0, {randn64({300, 257}, g), Tensor::randint({1000, 257}, 0, 300, DType::i64, &g)}, dt, tol, g);
    check(gather1, {randn64({64, 3000}, g), Tensor::randint({50, 5001}, 0, 3000, DType::i32, &g)}, dt, tol, g);
    check(select0, {randn64({20000, 65}, g), Tensor::randint({4099}, 0, 20000, DType::i64, &g)}, dt, tol, g);
  }
}

TEST_F(CudaIndexOps, ScatterAddIsTheCpuSumBitForBit) {
  Generator g(2);
  Fn scat0 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{scatter_add(in[0], 0, in[1], in[2])}; };
  Fn scat1 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{scatter_add(in[0], -1, in[1], in[2])}; };
  // float64: the same additions in the same order, so equal to the last bit.
  check(scat0, {randn64({1000, 33}, g), Tensor::randint({5000, 33}, 0, 1000, DType::i64, &g), randn64({5001, 40}, g)},
        DType::f64, kExact, g);
  check(scat1, {randn64({17, 300}, g), Tensor::randint({17, 4000}, 0, 300, DType::i32, &g), randn64({17, 4000}, g)},
        DType::f64, kExact, g);
  check(scat0, {randn64({1000, 33}, g), Tensor::randint({5000, 33}, 0, 1000, DType::i64, &g), randn64({5000, 33}, g)},
        DType::bf16, kBf16, g);
  // Integer scatter (no gradient).
  Tensor xi = Tensor::randint({50, 7}, -100, 100, DType::i64, &g);
  Tensor si = Tensor::randint({400, 7}, -100, 100, DType::i64, &g);
  Tensor ii = Tensor::randint({400, 7}, 0, 50, DType::i64, &g);
  Tensor want = scatter_add(xi, 0, ii, si);
  Tensor got = scatter_add(xi.to(Device::cuda(0)), 0, ii.to(Device::cuda(0)), si.to(Device::cuda(0)));
  EXPECT_CLOSE(got.cpu(), want, kExact);
  // An out-of-range index is an error naming the op.
  Tensor bad = Tensor::from_vector(std::vector<int64_t>{0, 50}, {2}).to(Device::cuda(0));
  EXPECT_THROW(index_select(xi.to(Device::cuda(0)), 0, bad).cpu(), Error);
}

TEST_F(CudaIndexOps, CatAndSplit) {
  Generator g(3);
  Fn cat1 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{cat(in, 1)}; };
  Fn stack0 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{stack(in, 0)}; };
  Fn split1 = [](const std::vector<Tensor>& in) {
    std::vector<Tensor> parts = split(in[0], std::vector<int64_t>{300, 0, 129, 571}, 1);
    return std::vector<Tensor>{parts[0], parts[3]};  // pieces 1 and 2 get no gradient
  };
  for (DType dt : {DType::f64, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    check(cat1, {randn64({3, 5, 129}, g), randn64({3, 0, 129}, g), randn64({3, 1000, 129}, g), randn64({3, 7, 129}, g)},
          dt, kExact, g);
    std::vector<Tensor> many;
    for (int i = 0; i < 300; ++i) many.push_back(randn64({17, 3}, g));
    check(stack0, many, dt, kExact, g);
    check(split1, {randn64({4, 1000, 96}, g)}, dt, kExact, g);
  }
  // Non-contiguous and sliced inputs (forward only: their gradients would be strided copies).
  Tensor a = randn64({40, 30}, g), b = randn64({50, 40}, g);
  Tensor want = cat({a, b.t()}, 1);
  Tensor got = cat({a.to(Device::cuda(0)), b.to(Device::cuda(0)).t()}, 1);
  EXPECT_CLOSE(got.cpu(), want, kExact);
  // Row layouts with a pitch (narrowed pieces: rows of 10 elements 30 apart) take the 2D-copy
  // path; a transposed one among them sends the whole cat to the element kernel.
  Tensor ad = a.to(Device::cuda(0)), bd = b.to(Device::cuda(0));
  EXPECT_CLOSE(cat({ad.narrow(1, 2, 10), bd.narrow(0, 5, 40).t().contiguous(), ad.narrow(1, 0, 1)}, 1).cpu(),
               cat({a.narrow(1, 2, 10), b.narrow(0, 5, 40).t().contiguous(), a.narrow(1, 0, 1)}, 1), kExact);
  EXPECT_CLOSE(cat({ad.narrow(1, 2, 10), bd.narrow(1, 3, 10)}, 0).cpu(),
               cat({a.narrow(1, 2, 10), b.narrow(1, 3, 10)}, 0), kExact);
  // split of a narrowed (pitched) big tensor into row pieces.
  std::vector<Tensor> parts = split(bd.narrow(1, 1, 30), std::vector<int64_t>{7, 23}, 1);
  std::vector<Tensor> want_parts = split(b.narrow(1, 1, 30), std::vector<int64_t>{7, 23}, 1);
  for (int i = 0; i < 2; ++i) EXPECT_CLOSE(parts[size_t(i)].contiguous().cpu(), want_parts[size_t(i)].contiguous(), kExact);
}

TEST_F(CudaIndexOps, CumsumLongScansAndIntegers) {
  Generator g(4);
  for (int64_t dim : {0, 1, 2}) {
    SCOPED_TRACE("dim " + std::to_string(dim));
    Fn f = [dim](const std::vector<Tensor>& in) { return std::vector<Tensor>{cumsum(in[0], dim)}; };
    // float64 sums on both sides, in the same order: equal to the last bit.
    check(f, {randn64({30, 500, 7}, g)}, DType::f64, kExact, g);
    check(f, {randn64({30, 500, 7}, g)}, DType::f32, Tol{1e-6, 1e-6}, g);
    check(f, {randn64({30, 500, 7}, g)}, DType::bf16, Tol{1e-2, 1e-2}, g);
  }
  Fn f0 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{cumsum(in[0], 0)}; };
  check(f0, {randn64({100003}, g)}, DType::f64, kExact, g);
  Tensor xi = Tensor::randint({77, 301}, -1000, 1000, DType::i32, &g);
  EXPECT_CLOSE(cumsum(xi.to(Device::cuda(0)), -1).cpu(), cumsum(xi, -1), kExact);
  // A transposed view is scanned in place.
  Tensor x = randn64({64, 200}, g);
  EXPECT_CLOSE(cumsum(x.to(Device::cuda(0)).t(), 1).cpu(), cumsum(x.t(), 1), kExact);
}

TEST_F(CudaIndexOps, FlipAndPad) {
  Generator g(5);
  Fn flip02 = [](const std::vector<Tensor>& in) { return std::vector<Tensor>{flip(in[0], {0, 2})}; };
  check(flip02, {randn64({33, 65, 17}, g)}, DType::f64, kExact, g);
  check(flip02, {randn64({33, 65, 17}, g)}, DType::bf16, kExact, g);
  Tensor bits = Tensor::randint({9, 1001}, 0, 2, DType::i64, &g).to(DType::b8);
  EXPECT_CLOSE(flip(bits.to(Device::cuda(0)), {-1}).cpu().to(DType::i64), flip(bits, {-1}).to(DType::i64), kExact);

  struct Case {
    Shape shape;
    std::vector<int64_t> pads;
    PadMode mode;
    double value;
  };
  std::vector<Case> cases = {
      {{8, 3, 100, 120}, {3, -2, 1, 5}, PadMode::constant, 1.5},
      {{5, 1000}, {-10, 300}, PadMode::constant, 0.0},
      {{4, 3, 50, 70}, {10, 20, 5, 7}, PadMode::reflect, 0.0},
      {{2, 3, 10, 20, 30}, {1, 2, 3, 4, 5, 6}, PadMode::replicate, 0.0},
      {{2, 3, 10, 20, 30}, {-1, 2, 3, -4, 5, 6}, PadMode::reflect, 0.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(pad_mode_name(c.mode));
    Fn f = [c](const std::vector<Tensor>& in) { return std::vector<Tensor>{pad(in[0], c.pads, c.mode, c.value)}; };
    // Gradients of reflect/replicate are ordered sums, the same on both devices in float64.
    check(f, {randn64(c.shape, g)}, DType::f64, kExact, g);
    // In bfloat16 the gradient is folded one padded dim at a time, rounded to bfloat16 after
    // each (as on the CPU): a corner of a 3-dim replicate pad sums up to 48 terms through three
    // roundings, so it is compared more loosely against float64.
    check(f, {randn64(c.shape, g)}, DType::bf16, Tol{0.1, 2e-2}, g);
  }
}

TEST_F(CudaIndexOps, DropoutMaskIsTheCpuMask) {
  Generator data(6);
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    for (double p : {0.1, 0.5, 0.9}) {
      // The same dtype on both sides: the same mask and the same arithmetic, so equal to the
      // last bit, forward and backward.
      Tensor x = Tensor::randn({1001, 777}, DType::f64, &data).to(dt);
      Tensor xc = x.clone().requires_grad_(), xg = x.to(Device::cuda(0)).requires_grad_();
      Generator a(0x5eed), b(0x5eed);
      a.reserve(12345);  // a non-zero base counter
      b.reserve(12345);
      Tensor yc = dropout(xc, p, true, &a), yg = dropout(xg, p, true, &b);
      EXPECT_CLOSE(yg.detach().cpu().to(DType::f64), yc.to(DType::f64), kExact);
      Tensor v = Tensor::randn(x.shape(), DType::f64, &data).to(dt);
      yc.backward(v);
      yg.backward(v.to(Device::cuda(0)));
      EXPECT_CLOSE(xg.grad().cpu().to(DType::f64), xc.grad().to(DType::f64), kExact);
    }
  }
  // A transposed view: element i in row-major order of the view, on both devices.
  Tensor x = Tensor::randn({300, 201}, DType::f32, &data);
  Generator a(9), b(9);
  EXPECT_CLOSE(dropout(x.to(Device::cuda(0)).t(), 0.3, true, &a).cpu(), dropout(x.t(), 0.3, true, &b), kExact);
}

}  // namespace
}  // namespace ssm
