// long_conv: the op (checks, the kernel's spectrum, one autograd record, backward), its CPU
// kernels over ops/fft_plan.h, the unfused composite for lengths the kernels cannot take, and
// the op's test-table entry.
#include "ops/long_conv.h"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/fft.h"
#include "ops/fft_conv.h"
#include "ops/fft_plan.h"
#include "ops/op_info.h"
#include "ops/unary_functors.h"

namespace ssm {

namespace {

// ---- CPU kernels: one row (b, h) at a time, gathered from and scattered to (B, L, H) ---------

template <class T>
T act(T p, bool gelu) {
  return gelu ? fn::Gelu::f(p, UnaryParams{}) : p;
}
template <class T>
T act_grad(T p, bool gelu) {
  return gelu ? fn::Gelu::df(p, T(0), UnaryParams{}) : T(1);
}

// re, im *= kf (interleaved pairs; conj(kf) when conj_k), F bins.
template <class T>
void mul_spectrum(T* re, T* im, const T* kf, int64_t F, bool conj_k) {
  const T sk = conj_k ? T(-1) : T(1);
  for (int64_t f = 0; f < F; ++f) {
    T xr = re[f], xi = im[f], wr = kf[2 * f], wi = sk * kf[2 * f + 1];
    re[f] = xr * wr - xi * wi;
    im[f] = xr * wi + xi * wr;
  }
}

template <class T>
struct RowBuffers {
  std::vector<T> x, re, im, work;
  RowBuffers(const fft_cpu::RealPlan<T>& plan, int64_t n)
      : x(size_t(n)), re(size_t(n / 2 + 1)), im(size_t(n / 2 + 1)), work(size_t(plan.work_size())) {}
};

template <class T>
void cpu_forward_t(const LongConvArgs& a, const Tensor& y) {
  const int64_t B = a.u.size(0), L = a.u.size(1), H = a.u.size(2), n = a.n, F = n / 2 + 1;
  const T *u = a.u.data<T>(), *Kf = a.Kf.data<T>(), *D = a.D.defined() ? a.D.data<T>() : nullptr;
  T* yp = y.data<T>();
  auto plan = fft_cpu::real_plan<T>(n);
  const T scale = T(1) / T(n);
  parallel_for(0, B * H, grain_for_work(8 * n), [&](int64_t r0, int64_t r1) {
    RowBuffers<T> w(*plan, n);
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = r / H, h = r % H, off = b * L * H + h;
      std::fill(w.x.begin() + L, w.x.end(), T(0));
      for (int64_t t = 0; t < L; ++t) w.x[size_t(t)] = u[off + t * H];
      plan->forward(w.x.data(), w.re.data(), w.im.data(), w.work.data());
      mul_spectrum(w.re.data(), w.im.data(), Kf + 2 * h * F, F, false);
      plan->inverse(w.re.data(), w.im.data(), w.x.data(), w.work.data());
      const T d = D ? D[h] : T(0);
      for (int64_t t = 0; t < L; ++t)
        yp[off + t * H] = act(w.x[size_t(t)] * scale + d * u[off + t * H], a.gelu);
    }
  });
}

// One channel h per task, its batch summed in order (the result does not depend on threads).
template <class T>
void cpu_backward_t(const LongConvArgs& a, const Tensor& dy, const Tensor& du, const Tensor& dKf,
                    const Tensor& dD) {
  const int64_t B = a.u.size(0), L = a.u.size(1), H = a.u.size(2), n = a.n, F = n / 2 + 1;
  const T *u = a.u.data<T>(), *Kf = a.Kf.data<T>(), *D = a.D.defined() ? a.D.data<T>() : nullptr;
  const T* g_out = dy.data<T>();
  T *dup = du.data<T>(), *dK = dKf.data<T>(), *dDp = dD.defined() ? dD.data<T>() : nullptr;
  auto plan = fft_cpu::real_plan<T>(n);
  const T scale = T(1) / T(n);
  parallel_for(0, H, grain_for_work(16 * B * n), [&](int64_t h0, int64_t h1) {
    RowBuffers<T> w(*plan, n);
    std::vector<T> ure(static_cast<size_t>(F)), uim(static_cast<size_t>(F)), g(static_cast<size_t>(L));
    for (int64_t h = h0; h < h1; ++h) {
      const T* kf = Kf + 2 * h * F;
      T* acc = dK + 2 * h * F;
      std::fill(acc, acc + 2 * F, T(0));
      const T d = D ? D[h] : T(0);
      T dsum = T(0);
      for (int64_t b = 0; b < B; ++b) {
        const int64_t off = b * L * H + h;
        std::fill(w.x.begin() + L, w.x.end(), T(0));
        for (int64_t t = 0; t < L; ++t) w.x[size_t(t)] = u[off + t * H];
        plan->forward(w.x.data(), ure.data(), uim.data(), w.work.data());
        std::copy(ure.begin(), ure.end(), w.re.begin());
        std::copy(uim.begin(), uim.end(), w.im.begin());
        mul_spectrum(w.re.data(), w.im.data(), kf, F, false);
        plan->inverse(w.re.data(), w.im.data(), w.x.data(), w.work.data());
        for (int64_t t = 0; t < L; ++t) {
          T ut = u[off + t * H];
          T gt = g_out[off + t * H] * act_grad(w.x[size_t(t)] * scale + d * ut, a.gelu);
          g[size_t(t)] = gt;
          dsum += ut * gt;
          w.x[size_t(t)] = gt;
        }
        std::fill(w.x.begin() + L, w.x.end(), T(0));
        plan->forward(w.x.data(), w.re.data(), w.im.data(), w.work.data());
        for (int64_t f = 0; f < F; ++f) {  // acc += G conj(U)
          T gr = w.re[size_t(f)], gi = w.im[size_t(f)], zr = ure[size_t(f)], zi = uim[size_t(f)];
          acc[2 * f] += gr * zr + gi * zi;
          acc[2 * f + 1] += gi * zr - gr * zi;
        }
        mul_spectrum(w.re.data(), w.im.data(), kf, F, true);
        plan->inverse(w.re.data(), w.im.data(), w.x.data(), w.work.data());
        for (int64_t t = 0; t < L; ++t) dup[off + t * H] = w.x[size_t(t)] * scale + d * g[size_t(t)];
      }
      if (dDp) dDp[h] = dsum;
    }
  });
}

void cpu_forward(const LongConvArgs& a, const Tensor& y) {
  if (a.u.dtype() == DType::f32)
    cpu_forward_t<float>(a, y);
  else
    cpu_forward_t<double>(a, y);
}

void cpu_backward(const LongConvArgs& a, const Tensor& dy, const Tensor& du, const Tensor& dKf,
                  const Tensor& dD) {
  if (a.u.dtype() == DType::f32)
    cpu_backward_t<float>(a, dy, du, dKf, dD);
  else
    cpu_backward_t<double>(a, dy, du, dKf, dD);
}

int64_t cpu_size(DType, int64_t need) { return fft_cpu::next_fast_size(need, /*even=*/true); }

const LongConvKernels kCpuKernels = {wide_float_dtypes, cpu_size, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(LongConvKernels, cpu, kCpuKernels);

// The same maths from other ops (for lengths the device's kernels cannot hold).
Tensor composite(const Tensor& u, const Tensor& k, const Tensor& D, const Tensor& k_rev, bool gelu) {
  Tensor ut = u.transpose(1, 2);  // (B, H, L)
  Tensor y = fft_conv(ut, k, k_rev);
  if (D.defined()) y = add(y, mul(ut, D.unsqueeze(1)));
  if (gelu) y = ssm::gelu(y);
  return y.transpose(1, 2).contiguous();
}

}  // namespace

namespace cuda {
namespace {
int& fused_flag() {
  static int flag = [] {
    const char* e = std::getenv("SSM_FUSED_LONG_CONV");
    return e && e[0] == '1' ? 1 : 0;
  }();
  return flag;
}
}  // namespace

void set_long_conv_fused(bool on) { fused_flag() = on ? 1 : 0; }
bool long_conv_fused() { return fused_flag() != 0; }
}  // namespace cuda

Tensor long_conv(const Tensor& u, const Tensor& k, const Tensor& D, const Tensor& k_rev, bool gelu) {
  const char* op = "long_conv";
  check_defined(u, op, "u");
  check_defined(k, op, "k");
  SSM_CHECK(u.dtype() == DType::f32 || u.dtype() == DType::f64, op,
            ": u must be float32 or float64 (16-bit inputs are cast to float32 first), got ",
            describe(u));
  SSM_CHECK(u.dim() == 3, op, ": u must be 3-D (batch, length, channels), got ", describe(u));
  const int64_t B = u.size(0), L = u.size(1), H = u.size(2);
  SSM_CHECK(L >= 1, op, ": u must have at least one time step, got ", describe(u));
  fft_conv_check_kernels(op, u, k, k_rev, H, L);
  if (D.defined()) {
    check_same_device(u, D, op);
    SSM_CHECK(D.dtype() == u.dtype() && D.dim() == 1 && D.size(0) == H, op,
              ": D must be (channels) = (", H, ") of u's dtype ", u.dtype(), ", got ", describe(D));
  }
  const LongConvKernels& lk = kernels<LongConvKernels>(op, u);
  const int64_t Lk = k.size(1), Lr = k_rev.defined() ? k_rev.size(1) : 0;
  const int64_t n = lk.size(u.dtype(), L + std::max(Lk - 1, Lr));
  if (n == 0) return composite(u, k, D, k_rev, gelu);
  const FftKernels& fk = kernels<FftKernels>(op, u);
  const DType dt = u.dtype();
  const Device dev = u.device();
  const int64_t F = n / 2 + 1;

  LongConvArgs a;
  a.n = n;
  a.gelu = gelu;
  Tensor y = Tensor::empty({B, L, H}, dt, dev);
  {
    NoGradGuard ng;
    a.u = u.detach().contiguous();
    if (D.defined()) a.D = D.detach().contiguous();
    a.Kf = Tensor::empty({H, F, 2}, dt, dev);
    fk.r2c(fft_conv_kernel_buffer(k.detach(), k_rev.defined() ? k_rev.detach() : Tensor(), n), a.Kf,
           n, 1.0);
    if (B > 0 && H > 0) lk.forward(a, y);
  }
  if (needs_grad({u, k, D, k_rev})) {
    Saved su(a.u), sK(a.Kf), sD(a.D);
    record(OpId::long_conv, {u, k, D, k_rev}, y,
           [su, sK, sD, B, H, L, Lk, Lr, n, F, gelu, dt, &fk, &lk](Grads& g) {
             NoGradGuard ng;
             LongConvArgs a;
             a.u = su.get();
             a.Kf = sK.get();
             if (sD.defined()) a.D = sD.get();
             a.n = n;
             a.gelu = gelu;
             const Device dev = a.u.device();
             // The kernels write every element; with no rows there is nothing to write.
             auto make = [&](const Shape& s) {
               return B > 0 && H > 0 ? Tensor::empty(s, dt, dev) : Tensor::zeros(s, dt, dev);
             };
             Tensor du = make({B, L, H}), dKf = make({H, F, 2});
             Tensor dD = a.D.defined() ? make({H}) : Tensor();
             if (B > 0 && H > 0)
               lk.backward(a, g.out[0].to(dt).contiguous(), du, dKf, dD);
             if (g.needs(0)) g.in[0] = du;
             if (g.needs(2)) g.in[2] = dD;
             bool want_k = g.needs(1), want_rev = Lr > 0 && g.needs(3);
             if (want_k || want_rev) {
               Tensor dK = Tensor::empty({H, want_rev ? n : Lk}, dt, dev);
               fk.c2r(dKf, dK, n, 1.0 / double(n));
               std::vector<Tensor> dk = fft_conv_kernel_grads(dK, Lk, Lr, want_k, want_rev);
               if (want_k) g.in[1] = dk[0];
               if (want_rev) g.in[3] = dk[1];
             }
           });
  }
  return y;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/long_conv.py) -------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// Inputs [u, k, D?, k_rev?]: D present unless args.skip is false, k_rev when args.bidirectional.
Tensors run_long_conv(const Tensors& in, const json& args) {
  const bool skip = args.value("skip", true), bi = args.value("bidirectional", false);
  Tensor D = skip ? in[2] : Tensor();
  Tensor k_rev = bi ? in[skip ? 3 : 2] : Tensor();
  return {long_conv(in[0], in[1], D, k_rev, args.value("gelu", true))};
}

SSM_OP_INFO({.name = "long_conv",
             .nodes = {OpId::long_conv},
             .run = run_long_conv,
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"L = Lk = 8, H 3", {randn(g, {2, 8, 3}), randn(g, {3, 8}), randn(g, {3})}},
                   {"odd L 9, Lk 4", {randn(g, {2, 9, 2}), randn(g, {2, 4}), randn(g, {2})}},
                   {"L 1", {randn(g, {3, 1, 2}), randn(g, {2, 1}), randn(g, {2})}},
                   {"L 40 (several transform sizes)",
                    {randn(g, {2, 40, 2}), randn(g, {2, 40}), randn(g, {2})}},
                   {"no GELU", {randn(g, {2, 7, 3}), randn(g, {3, 7}), randn(g, {3})},
                    {{"gelu", false}}},
                   {"no skip", {randn(g, {2, 6, 2}), randn(g, {2, 6})}, {{"skip", false}}},
                   {"non-contiguous u", {noncontig(randn(g, {2, 6, 5})), randn(g, {5, 3}), randn(g, {5})}},
                   {"bidirectional, Lk = Lr = L = 7",
                    {randn(g, {2, 7, 2}), randn(g, {2, 7}), randn(g, {2}), randn(g, {2, 7})},
                    {{"bidirectional", true}}},
                   {"bidirectional, L 10, Lk 3, Lr 6, no skip",
                    {randn(g, {2, 10, 3}), randn(g, {3, 3}), randn(g, {3, 6})},
                    {{"bidirectional", true}, {"skip", false}}},
               };
             },
             .lowp = false});  // float32 / float64 only, as its transforms

}  // namespace
}  // namespace testing

}  // namespace ssm
