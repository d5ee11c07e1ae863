// ops/long_conv beyond the OpInfo table: the op against the composite it fuses (fft_conv, skip,
// GELU) with every gradient, at lengths from 1 to several hundred; the CUDA block program
// (ops/long_conv_block.h) run on the host, thread by thread, against the op; and the errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/autograd.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/fft.h"
#include "ops/fft_conv.h"
#include "ops/long_conv.h"
#include "ops/long_conv_block.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm::testing {
namespace {

namespace lcb = long_conv_block;

struct Case {
  int64_t B, L, H, Lk, Lr;
  bool skip, gelu;
};

const std::vector<Case> kCases = {
    {2, 1, 3, 1, 0, true, true},      {2, 17, 3, 17, 0, true, true},   {1, 64, 2, 30, 0, false, true},
    {3, 100, 4, 100, 0, true, false}, {2, 33, 2, 33, 33, true, true},  {2, 129, 3, 5, 70, false, true},
    {1, 500, 2, 500, 0, true, true},  {2, 257, 5, 257, 257, true, true},
};

struct Result {
  Tensor y, du, dk, dkr, dD;
};

Result composite(const Tensor& u, const Tensor& k, const Tensor& D, const Tensor& kr, bool gelu,
                 const Tensor& g) {
  Tensor uu = u.detach().requires_grad_(true), kk = k.detach().requires_grad_(true);
  Tensor DD = D.defined() ? D.detach().requires_grad_(true) : Tensor();
  Tensor kkr = kr.defined() ? kr.detach().requires_grad_(true) : Tensor();
  Tensor ut = uu.transpose(1, 2);
  Tensor y = fft_conv(ut, kk, kkr);
  if (DD.defined()) y = add(y, mul(ut, DD.unsqueeze(1)));
  if (gelu) y = ssm::gelu(y);
  y = y.transpose(1, 2);
  y.backward(g);
  return {y.detach(), uu.grad(), kk.grad(), kkr.defined() ? kkr.grad() : Tensor(),
          DD.defined() ? DD.grad() : Tensor()};
}

Result op(const Tensor& u, const Tensor& k, const Tensor& D, const Tensor& kr, bool gelu,
          const Tensor& g) {
  Tensor uu = u.detach().requires_grad_(true), kk = k.detach().requires_grad_(true);
  Tensor DD = D.defined() ? D.detach().requires_grad_(true) : Tensor();
  Tensor kkr = kr.defined() ? kr.detach().requires_grad_(true) : Tensor();
  Tensor y = long_conv(uu, kk, DD, kkr, gelu);
  y.backward(g);
  return {y.detach(), uu.grad(), kk.grad(), kkr.defined() ? kkr.grad() : Tensor(),
          DD.defined() ? DD.grad() : Tensor()};
}

void expect_same(const Result& a, const Result& e, Tol tol, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_CLOSE(a.y, e.y, tol);
  EXPECT_CLOSE(a.du, e.du, tol);
  EXPECT_CLOSE(a.dk, e.dk, tol);
  if (e.dkr.defined()) EXPECT_CLOSE(a.dkr, e.dkr, tol);
  if (e.dD.defined()) EXPECT_CLOSE(a.dD, e.dD, tol);
}

struct Inputs {
  Tensor u, k, D, kr, g;
};

Inputs inputs(const Case& c, Generator& gen, DType dt) {
  Inputs in;
  in.u = Tensor::randn({c.B, c.L, c.H}, dt, &gen);
  in.k = mul(Tensor::randn({c.H, c.Lk}, dt, &gen), 1.0 / std::sqrt(double(c.Lk)));
  if (c.skip) in.D = Tensor::randn({c.H}, dt, &gen);
  if (c.Lr) in.kr = mul(Tensor::randn({c.H, c.Lr}, dt, &gen), 1.0 / std::sqrt(double(c.Lr)));
  in.g = Tensor::randn({c.B, c.L, c.H}, dt, &gen);
  return in;
}

std::string name(const Case& c) {
  return "B " + std::to_string(c.B) + " L " + std::to_string(c.L) + " H " + std::to_string(c.H) +
         " Lk " + std::to_string(c.Lk) + " Lr " + std::to_string(c.Lr) + (c.skip ? " skip" : "") +
         (c.gelu ? " gelu" : "");
}

TEST(LongConv, MatchesTheCompositeItFuses) {
  Generator gen(71);
  for (DType dt : {DType::f64, DType::f32})
    for (const Case& c : kCases) {
      Inputs in = inputs(c, gen, dt);
      Tol tol = dt == DType::f64 ? Tol{1e-11, 1e-9} : Tol{2e-5, 2e-4, 2e-5};
      expect_same(op(in.u, in.k, in.D, in.kr, c.gelu, in.g),
                  composite(in.u, in.k, in.D, in.kr, c.gelu, in.g), tol, name(c));
    }
}

// The block program on the host: each phase runs the thread ids in the given order. A phase
// that read what another thread of the same phase writes would give different results for the
// two orders, so both are compared with the op.
struct HostTeam {
  std::vector<int> order;
  template <class F>
  void each(F&& f) {
    for (int t : order) f(t, int(order.size()));
  }
  template <class T>
  T sum(const T* red) {
    T v = T(0);
    for (size_t t = 0; t < order.size(); ++t) v += red[t];
    return v;
  }
};

template <class T>
Result emulate(const Inputs& in, const Case& c, bool reverse_threads, int64_t chunks) {
  int64_t need = c.L + std::max(c.Lk - 1, c.Lr), n = 64;
  while (n < need) n *= 2;
  const int m = int(n / 2), threads = lcb::threads_for(m), F = m + 1;
  int logm = 0;
  while ((1 << logm) < m) ++logm;
  const DType dt = in.u.dtype();
  Tensor Kf = rfft(fft_conv_kernel_buffer(in.k, in.kr, n), n).contiguous();  // (H, F, 2)
  Tensor u = in.u.contiguous(), g = in.g.contiguous();
  Tensor y = Tensor::zeros({c.B, c.L, c.H}, dt), du = Tensor::zeros({c.B, c.L, c.H}, dt);
  std::vector<T> smem(size_t(lcb::smem_bytes<T>(m, threads)) / sizeof(T) + 4);
  lcb::Smem<T> s = lcb::carve<T>(smem.data(), m);
  HostTeam team;
  team.order.resize(size_t(threads));
  std::iota(team.order.begin(), team.order.end(), 0);
  if (reverse_threads) std::reverse(team.order.begin(), team.order.end());

  lcb::Row<T> r;
  r.u = u.data<T>();
  r.dy = g.data<T>();
  r.y = y.data<T>();
  r.du = du.data<T>();
  r.Kf = reinterpret_cast<const lcb::Cx<T>*>(Kf.data<T>());
  r.D = c.skip ? in.D.data<T>() : nullptr;
  r.B = c.B;
  r.L = c.L;
  r.H = c.H;
  r.m = m;
  r.logm = logm;
  r.gelu = c.gelu;
  lcb::make_twiddles(team, s, m);
  for (int64_t b = 0; b < c.B; ++b)
    for (int64_t h = 0; h < c.H; ++h) lcb::forward_row(team, s, r, b, h);

  // Backward by chunks of the batch, then the chunk sums, as the CUDA launcher does.
  const int64_t per_chunk = (c.B + chunks - 1) / chunks;
  std::vector<lcb::Cx<T>> keep(static_cast<size_t>(F)), part(static_cast<size_t>(chunks * c.H * F));
  std::vector<T> dpart(size_t(chunks * c.H));
  for (int64_t ch = 0; ch * per_chunk < c.B; ++ch)
    for (int64_t h = 0; h < c.H; ++h) {
      const int64_t b0 = ch * per_chunk, b1 = std::min(c.B, b0 + per_chunk);
      dpart[size_t(ch * c.H + h)] =
          lcb::backward_rows(team, s, r, b0, b1, h, keep.data(), part.data() + (ch * c.H + h) * F);
    }
  const int64_t used = (c.B + per_chunk - 1) / per_chunk;
  std::vector<T> dKf(size_t(c.H * F * 2), T(0)), dD(size_t(c.H), T(0));
  for (int64_t ch = 0; ch < used; ++ch)
    for (int64_t h = 0; h < c.H; ++h) {
      dD[size_t(h)] += dpart[size_t(ch * c.H + h)];
      for (int f = 0; f < F; ++f) {
        dKf[size_t((h * F + f) * 2)] += part[size_t((ch * c.H + h) * F + f)].re;
        dKf[size_t((h * F + f) * 2 + 1)] += part[size_t((ch * c.H + h) * F + f)].im;
      }
    }
  Tensor dK = irfft(Tensor::from_vector(dKf, {c.H, F, 2}).to(dt), n);  // (H, n), scaled 1 / n
  std::vector<Tensor> dk = fft_conv_kernel_grads(dK, c.Lk, c.Lr, true, c.Lr > 0);
  Result res{y, du, dk[0].contiguous(), c.Lr ? dk[1] : Tensor(),
             c.skip ? Tensor::from_vector(dD, {c.H}).to(dt) : Tensor()};
  return res;
}

TEST(LongConv, CudaBlockProgramOnTheHostMatchesTheOp) {
  Generator gen(72);
  for (const Case& c : kCases) {
    Inputs in = inputs(c, gen, DType::f64);
    Result want = op(in.u, in.k, in.D, in.kr, c.gelu, in.g);
    for (bool rev : {false, true})
      for (int64_t chunks : {int64_t(1), c.B}) {
        expect_same(emulate<double>(in, c, rev, chunks), want, Tol{1e-11, 1e-9},
                    name(c) + (rev ? ", threads reversed" : "") + ", chunks " + std::to_string(chunks));
      }
  }
  // float32, the GPU's working precision
  const Case c{2, 300, 3, 300, 0, true, true};
  Inputs in = inputs(c, gen, DType::f32);
  expect_same(emulate<float>(in, c, false, 2), op(in.u, in.k, in.D, in.kr, c.gelu, in.g),
              Tol{2e-5, 2e-4, 2e-5}, "float32 " + name(c));
}

// The largest transform a block holds (m = 16384 in float32), one row: the twiddle table, the
// bit reversal and the swizzle at full size.
TEST(LongConv, CudaBlockProgramOnTheHostAtFullSize) {
  Generator gen(73);
  const Case c{1, 16384, 1, 16384, 0, true, true};
  Inputs in = inputs(c, gen, DType::f32);
  expect_same(emulate<float>(in, c, false, 1), op(in.u, in.k, in.D, in.kr, c.gelu, in.g),
              Tol{5e-5, 5e-4, 5e-5}, "float32 " + name(c));
}

TEST(LongConv, Errors) {
  Tensor u = Tensor::randn({2, 8, 3}), k = Tensor::randn({3, 8}), D = Tensor::randn({3});
  EXPECT_NE(error_of([&] { long_conv(u, Tensor::randn({3, 9}), D); }).find("slice them off"),
            std::string::npos);
  EXPECT_NE(error_of([&] { long_conv(u, Tensor::randn({2, 4}), D); }).find("(channels, length)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { long_conv(u, k, Tensor::randn({4})); }).find("D must be"), std::string::npos);
  EXPECT_NE(error_of([&] { long_conv(u, k.to(DType::f64), D); }).find("u's dtype"), std::string::npos);
  EXPECT_NE(error_of([&] { long_conv(u.to(DType::bf16), k, D); }).find("float32 or float64"),
            std::string::npos);
  EXPECT_NE(error_of([&] { long_conv(u.view({16, 3}), k, D); }).find("3-D"), std::string::npos);
  EXPECT_NE(error_of([&] { long_conv(u, k, D, Tensor::randn({3, 9})); }).find("k_rev"), std::string::npos);
}

}  // namespace
}  // namespace ssm::testing
