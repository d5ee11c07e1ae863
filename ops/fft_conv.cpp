// fft_conv: the op (checks, the kernel buffer, transforms through ops/fft.h's kernel table, one
// autograd record, backward), the CPU spectral products, and the op's test-table entry.
#include "ops/fft_conv.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/fft.h"
#include "ops/fft_plan.h"
#include "ops/flip.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// ---- CPU kernels ----------------------------------------------------------------------------

template <class T>
void mul_rows(const T* a, const T* k, T* y, int64_t B, int64_t H, int64_t F, bool conj_k) {
  const T sk = conj_k ? T(-1) : T(1);
  parallel_for(0, B * H, grain_for_work(4 * F), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* ar = a + 2 * r * F;
      const T* kr = k + 2 * (r % H) * F;
      T* yr = y + 2 * r * F;
      for (int64_t f = 0; f < F; ++f) {
        T xr = ar[2 * f], xi = ar[2 * f + 1], wr = kr[2 * f], wi = sk * kr[2 * f + 1];
        yr[2 * f] = xr * wr - xi * wi;
        yr[2 * f + 1] = xr * wi + xi * wr;
      }
    }
  });
}

template <class T>
void mul_conj_sum_rows(const T* a, const T* c, T* y, int64_t B, int64_t H, int64_t F) {
  parallel_for(0, H, grain_for_work(4 * B * F), [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      T* yr = y + 2 * h * F;
      std::fill(yr, yr + 2 * F, T(0));
      for (int64_t b = 0; b < B; ++b) {
        const T* ar = a + 2 * (b * H + h) * F;
        const T* cr = c + 2 * (b * H + h) * F;
        for (int64_t f = 0; f < F; ++f) {  // a conj(c)
          T xr = ar[2 * f], xi = ar[2 * f + 1], zr = cr[2 * f], zi = cr[2 * f + 1];
          yr[2 * f] += xr * zr + xi * zi;
          yr[2 * f + 1] += xi * zr - xr * zi;
        }
      }
    }
  });
}

void cpu_mul(const Tensor& a, const Tensor& k, const Tensor& y, bool conj_k) {
  int64_t B = a.size(0), H = a.size(1), F = a.size(2);
  if (a.dtype() == DType::f32)
    mul_rows<float>(a.data<float>(), k.data<float>(), y.data<float>(), B, H, F, conj_k);
  else
    mul_rows<double>(a.data<double>(), k.data<double>(), y.data<double>(), B, H, F, conj_k);
}

void cpu_mul_conj_sum(const Tensor& a, const Tensor& c, const Tensor& y) {
  int64_t B = a.size(0), H = a.size(1), F = a.size(2);
  if (a.dtype() == DType::f32)
    mul_conj_sum_rows<float>(a.data<float>(), c.data<float>(), y.data<float>(), B, H, F);
  else
    mul_conj_sum_rows<double>(a.data<double>(), c.data<double>(), y.data<double>(), B, H, F);
}

const FftConvKernels kCpuKernels = {wide_float_dtypes, cpu_mul, cpu_mul_conj_sum};
SSM_REGISTER_KERNELS(FftConvKernels, cpu, kCpuKernels);

}  // namespace

void fft_conv_check_kernels(const char* op, const Tensor& u, const Tensor& k, const Tensor& k_rev,
                            int64_t H, int64_t L) {
  auto check = [&](const Tensor& t, const char* name) {
    check_same_device(u, t, op);
    SSM_CHECK(t.dtype() == u.dtype(), op, ": ", name, " must have u's dtype ", u.dtype(), ", got ",
              describe(t));
    SSM_CHECK(t.dim() == 2 && t.size(0) == H && t.size(1) >= 1 && t.size(1) <= L, op, ": ", name,
              " must be (channels, length) = (", H, ", 1..", L, ") for u ", describe(u), ", got ",
              describe(t), " (taps beyond the sequence length never reach an output: slice them off)");
  };
  check(k, "k");
  if (k_rev.defined()) check(k_rev, "k_rev");
}

Tensor fft_conv_kernel_buffer(const Tensor& k, const Tensor& k_rev, int64_t n) {
  if (!k_rev.defined()) return k.contiguous();
  int64_t H = k.size(0), Lk = k.size(1), Lr = k_rev.size(1);
  Tensor K = Tensor::zeros({H, n}, k.dtype(), k.device());
  K.narrow(1, 0, Lk).copy_(k);
  K.narrow(1, n - Lr, Lr).copy_(flip(k_rev, {1}));
  return K;
}

std::vector<Tensor> fft_conv_kernel_grads(const Tensor& dK, int64_t Lk, int64_t Lr, bool want_k,
                                          bool want_rev) {
  std::vector<Tensor> out(2);
  const int64_t n = dK.size(1);
  if (want_k) out[0] = dK.size(1) == Lk ? dK : dK.narrow(1, 0, Lk).contiguous();
  if (want_rev) out[1] = flip(dK.narrow(1, n - Lr, Lr), {1});
  return out;
}

int64_t fft_conv_size(int64_t L, int64_t Lk, int64_t Lr) {
  return fft_cpu::next_fast_size(L + std::max(Lk - 1, Lr), /*even=*/true);
}

Tensor fft_conv(const Tensor& u, const Tensor& k, const Tensor& k_rev) {
  const char* op = "fft_conv";
  check_defined(u, op, "u");
  check_defined(k, op, "k");
  check_same_device(u, k, op);
  SSM_CHECK(u.dtype() == DType::f32 || u.dtype() == DType::f64, op,
            ": u must be float32 or float64 (16-bit inputs are cast to float32 first), got ",
            describe(u));
  SSM_CHECK(u.dim() == 3, op, ": u must be 3-D (batch, channels, length), got ", describe(u));
  const int64_t B = u.size(0), H = u.size(1), L = u.size(2);
  SSM_CHECK(L >= 1, op, ": u must have at least one time step, got ", describe(u));
  fft_conv_check_kernels(op, u, k, k_rev, H, L);
  const int64_t Lk = k.size(1), Lr = k_rev.defined() ? k_rev.size(1) : 0;
  const int64_t n = fft_conv_size(L, Lk, Lr), F = n / 2 + 1;
  const FftKernels& fk = kernels<FftKernels>(op, u);
  const FftConvKernels& ck = kernels<FftConvKernels>(op, u);
  const DType dt = u.dtype();
  const Device dev = u.device();

  Tensor y = Tensor::empty({B, H, L}, dt, dev);
  Tensor U = Tensor::empty({B, H, F, 2}, dt, dev), Kf = Tensor::empty({H, F, 2}, dt, dev);
  {
    NoGradGuard ng;
    fk.r2c(fft_conv_kernel_buffer(k.detach(), k_rev.defined() ? k_rev.detach() : Tensor(), n), Kf, n, 1.0);
    if (B > 0) {
      fk.r2c(u.detach().contiguous().view({B * H, L}), U.view({B * H, F, 2}), n, 1.0);
      Tensor Y = Tensor::empty({B, H, F, 2}, dt, dev);
      ck.mul(U, Kf, Y, false);
      fk.c2r(Y.view({B * H, F, 2}), y.view({B * H, L}), n, 1.0 / double(n));
    }
  }
  if (needs_grad({u, k, k_rev})) {
    Saved sU(U), sK(Kf);
    record(OpId::fft_conv, {u, k, k_rev}, y, [sU, sK, B, H, L, Lk, Lr, n, F, dt, &fk, &ck](Grads& g) {
      NoGradGuard ng;
      const Tensor &U = sU.get(), &Kf = sK.get();
      const Device dev = U.device();
      if (B == 0) {  // no outputs: the kernels get zero gradients
        if (g.needs(1)) g.in[1] = Tensor::zeros({H, Lk}, dt, dev);
        if (Lr > 0 && g.needs(2)) g.in[2] = Tensor::zeros({H, Lr}, dt, dev);
        return;
      }
      Tensor gy = g.out[0].to(dt).contiguous().view({B * H, L});
      Tensor G = Tensor::empty({B, H, F, 2}, dt, dev);
      fk.r2c(gy, G.view({B * H, F, 2}), n, 1.0);
      bool want_k = g.needs(1), want_rev = Lr > 0 && g.needs(2);
      if (want_k || want_rev) {
        Tensor S = Tensor::empty({H, F, 2}, dt, dev);
        ck.mul_conj_sum(G, U, S);
        // Without k_rev only the first Lk taps are wanted: the transform truncates to them.
        Tensor dK = Tensor::empty({H, want_rev ? n : Lk}, dt, dev);
        fk.c2r(S, dK, n, 1.0 / double(n));
        std::vector<Tensor> dk = fft_conv_kernel_grads(dK, Lk, Lr, want_k, want_rev);
        if (want_k) g.in[1] = dk[0];
        if (want_rev) g.in[2] = dk[1];
      }
      if (g.needs(0)) {  // G is not needed after this: G conj(K^) is formed in place
        ck.mul(G, Kf, G, true);
        Tensor du = Tensor::empty({B, H, L}, dt, dev);
        fk.c2r(G.view({B * H, F, 2}), du.view({B * H, L}), n, 1.0 / double(n));
        g.in[0] = du;
      }
    });
  }
  return y;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/fft_conv.py, S4's FFTConv
// composite of torch.fft.rfft / irfft) ---------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "fft_conv",
             .nodes = {OpId::fft_conv},
             .run = [](const Tensors& in, const json&) {
               return Tensors{fft_conv(in[0], in[1], in.size() > 2 ? in[2] : Tensor())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"Lk = L = 8", {randn(g, {2, 3, 8}), randn(g, {3, 8})}},
                   {"odd L 9, Lk 4", {randn(g, {2, 2, 9}), randn(g, {2, 4})}},
                   {"prime L 37, Lk 37", {randn(g, {1, 2, 37}), randn(g, {2, 37})}},
                   {"L 1", {randn(g, {3, 2, 1}), randn(g, {2, 1})}},
                   {"non-contiguous u", {noncontig(randn(g, {2, 5, 6})), randn(g, {5, 3})}},
                   {"bidirectional, Lk = Lr = L = 7 (S4)",
                    {randn(g, {2, 2, 7}), randn(g, {2, 7}), randn(g, {2, 7})}},
                   {"bidirectional, L 10, Lk 3, Lr 6",
                    {randn(g, {2, 3, 10}), randn(g, {3, 3}), randn(g, {3, 6})}},
               };
             },
             .lowp = false});  // float32 / float64 only, as its transforms

}  // namespace
}  // namespace testing

}  // namespace ssm
