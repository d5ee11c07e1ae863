// cauchy: the op (checks, one autograd record, backward), the CPU kernels, and the op's
// test-table entry.
#include "ops/cauchy.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/complex.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/join.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// ---- CPU kernels ----------------------------------------------------------------------------

// One channel h per item. The G rows of a channel share their poles, so each node's two
// reciprocals 1/(z - w), 1/(z - conj w) are formed once and used by every row (S4 has G = 2 x
// (channels + 1) rows: reciprocals, with their divisions, are the dominant cost).
template <class T>
void forward_rows(const Complex<T>* v, const Complex<T>* w, const Complex<T>* z, Complex<T>* out,
                  int64_t G, int64_t H, int64_t M, int64_t F) {
  parallel_for(0, H, grain_for_work(8 * M * F + 8 * G * M * F), [&](int64_t h0, int64_t h1) {
    std::vector<Complex<T>> acc(static_cast<size_t>(G));
    for (int64_t h = h0; h < h1; ++h) {
      const Complex<T>* wr = w + h * M;
      for (int64_t f = 0; f < F; ++f) {
        std::fill(acc.begin(), acc.end(), Complex<T>{});
        for (int64_t m = 0; m < M; ++m) {
          const Complex<T> a = reciprocal(z[f] - wr[m]), b = reciprocal(z[f] - conj(wr[m]));
          for (int64_t g = 0; g < G; ++g) {
            const Complex<T> vm = v[(g * H + h) * M + m];
            acc[size_t(g)] = acc[size_t(g)] + vm * a + conj(vm) * b;
          }
        }
        for (int64_t g = 0; g < G; ++g) out[(g * H + h) * F + f] = acc[size_t(g)];
      }
    }
  });
}

// One channel h per item (its G rows in order, so dw does not depend on the thread count); the
// node terms c, c' and their squares are formed once per (m, f) and shared by the rows.
template <class T>
void backward_rows(const Complex<T>* v, const Complex<T>* w, const Complex<T>* z,
                   const Complex<T>* g, Complex<T>* dv, Complex<T>* dw, int64_t G, int64_t H,
                   int64_t M, int64_t F) {
  parallel_for(0, H, grain_for_work(10 * M * F + 16 * G * M * F), [&](int64_t h0, int64_t h1) {
    std::vector<Complex<T>> s(static_cast<size_t>(G)), t(static_cast<size_t>(G));
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t m = 0; m < M; ++m) {
        const Complex<T> wm = w[h * M + m];
        std::fill(s.begin(), s.end(), Complex<T>{});  // dv's sums
        std::fill(t.begin(), t.end(), Complex<T>{});  // dw's sums before conj(v)
        for (int64_t f = 0; f < F; ++f) {
          const Complex<T> c = reciprocal(z[f] - wm), cc = reciprocal(z[f] - conj(wm));
          const Complex<T> c1 = conj(c), c2 = conj(c * c), cc2 = cc * cc;
          for (int64_t b = 0; b < G; ++b) {
            const Complex<T> gf = g[(b * H + h) * F + f], gc = conj(gf);
            s[size_t(b)] = s[size_t(b)] + c1 * gf + cc * gc;
            t[size_t(b)] = t[size_t(b)] + c2 * gf + cc2 * gc;
          }
        }
        Complex<T> dwm{};
        for (int64_t b = 0; b < G; ++b) {
          if (dv) dv[(b * H + h) * M + m] = s[size_t(b)];
          dwm = dwm + conj(v[(b * H + h) * M + m]) * t[size_t(b)];
        }
        if (dw) dw[h * M + m] = dwm;
      }
    }
  });
}

template <class T>
const Complex<T>* cdata(const Tensor& t) {
  return t.defined() ? reinterpret_cast<const Complex<T>*>(t.data<T>()) : nullptr;
}
template <class T>
Complex<T>* mdata(const Tensor& t) {
  return t.defined() ? reinterpret_cast<Complex<T>*>(t.data<T>()) : nullptr;
}

template <class T>
void cpu_forward_t(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& out) {
  forward_rows<T>(cdata<T>(v), cdata<T>(w), cdata<T>(z), mdata<T>(out), v.size(0), v.size(1),
                  v.size(2), z.size(0));
}

template <class T>
void cpu_backward_t(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& g,
                    const Tensor& dv, const Tensor& dw) {
  backward_rows<T>(cdata<T>(v), cdata<T>(w), cdata<T>(z), cdata<T>(g), mdata<T>(dv), mdata<T>(dw),
                   v.size(0), v.size(1), v.size(2), z.size(0));
}

void cpu_forward(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& out) {
  if (v.dtype() == DType::f32)
    cpu_forward_t<float>(v, w, z, out);
  else
    cpu_forward_t<double>(v, w, z, out);
}

void cpu_backward(const Tensor& v, const Tensor& w, const Tensor& z, const Tensor& g,
                  const Tensor& dv, const Tensor& dw) {
  if (v.dtype() == DType::f32)
    cpu_backward_t<float>(v, w, z, g, dv, dw);
  else
    cpu_backward_t<double>(v, w, z, g, dv, dw);
}

const CauchyKernels kCpuKernels = {wide_float_dtypes, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(CauchyKernels, cpu, kCpuKernels);

}  // namespace

Tensor cauchy(const Tensor& v, const Tensor& w, const Tensor& z) {
  const char* op = "cauchy";
  check_defined(v, op, "v");
  check_defined(w, op, "w");
  check_defined(z, op, "z");
  check_same_device(v, w, op);
  check_same_device(v, z, op);
  SSM_CHECK(v.dtype() == DType::f32 || v.dtype() == DType::f64, op,
            ": v must be float32 or float64, got ", describe(v));
  SSM_CHECK(w.dtype() == v.dtype() && z.dtype() == v.dtype(), op,
            ": v, w and z must share one dtype, got ", describe(v), ", ", describe(w), ", ",
            describe(z));
  SSM_CHECK(w.dim() == 3 && w.size(2) == 2, op, ": w must be (H, M, 2) complex poles, got ",
            describe(w));
  const int64_t H = w.size(0), M = w.size(1);
  SSM_CHECK(v.dim() >= 3 && v.size(-1) == 2 && v.size(-2) == M && v.size(-3) == H, op,
            ": v must be (..., H, M, 2) = (..., ", H, ", ", M, ", 2) for w ", describe(w), ", got ",
            describe(v));
  SSM_CHECK(z.dim() == 2 && z.size(1) == 2, op, ": z must be (F, 2) complex nodes, got ",
            describe(z));
  const int64_t F = z.size(0);
  int64_t G = 1;
  Shape out_shape;
  for (int64_t d = 0; d + 3 < v.dim(); ++d) {
    G *= v.size(d);
    out_shape.push_back(v.size(d));
  }
  out_shape.push_back(H);
  out_shape.push_back(F);
  out_shape.push_back(2);
  const CauchyKernels& k = kernels<CauchyKernels>(op, v);
  const DType dt = v.dtype();
  const Device dev = v.device();
  Tensor vc = v.detach().contiguous().view({G, H, M, 2}), wc = w.detach().contiguous(),
         zc = z.detach().contiguous();
  Tensor out = Tensor::empty(out_shape, dt, dev);
  if (G * H * F > 0) k.forward(vc, wc, zc, out.view({G, H, F, 2}));
  if (needs_grad({v, w})) {
    Saved sv(vc), sw(wc), sz(zc);
    Shape vshape = v.shape();
    record(OpId::cauchy, {v, w, z}, out, [sv, sw, sz, vshape, G, H, M, F, dt, &k](Grads& g) {
      NoGradGuard ng;
      const Tensor &vc = sv.get(), &wc = sw.get(), &zc = sz.get();
      Tensor dv = g.needs(0) ? Tensor::empty({G, H, M, 2}, dt, vc.device()) : Tensor();
      Tensor dw = g.needs(1) ? Tensor::empty({H, M, 2}, dt, vc.device()) : Tensor();
      if (!dv.defined() && !dw.defined()) return;
      if (G * H * M > 0 && F > 0) {
        Tensor gy = g.out[0].to(dt).contiguous().view({G, H, F, 2});
        k.backward(vc, wc, zc, gy, dv, dw);
      } else {
        if (dv.defined()) dv = Tensor::zeros({G, H, M, 2}, dt, vc.device());
        if (dw.defined()) dw = Tensor::zeros({H, M, 2}, dt, vc.device());
      }
      if (dv.defined()) g.in[0] = dv.view(vshape);
      if (dw.defined()) g.in[1] = dw;
    });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/cauchy.py, S4's cauchy_naive) ----

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// Poles in S4's left half-plane (Re w < 0) and nodes near the imaginary axis, as the bilinear
// images of the roots of unity are: the sums stay well conditioned.
Tensor poles(Generator& g, int64_t H, int64_t M) {
  Tensor re = uniform(g, {H, M, 1}, -1.5, -0.2), im = uniform(g, {H, M, 1}, -3.0, 3.0);
  return cat({re, im}, -1);
}

// The nodes travel as an argument ({"z": [[re, im], ...]}): they take no gradient, and every
// float64 input of a sample is gradient-checked.
json nodes(Generator& g, int64_t F) {
  std::vector<double> re = uniform(g, {F}, -0.1, 0.5).to_vector<double>(),
                      im = uniform(g, {F}, -4.0, 4.0).to_vector<double>();
  json z = json::array();
  for (int64_t f = 0; f < F; ++f) z.push_back({re[size_t(f)], im[size_t(f)]});
  return json{{"z", z}};
}

Tensor nodes_tensor(const json& args, const Tensor& like) {
  std::vector<double> z;
  for (const auto& p : args.at("z")) {
    z.push_back(p.at(0).get<double>());
    z.push_back(p.at(1).get<double>());
  }
  return Tensor::from_vector(z, {int64_t(z.size() / 2), 2}).to(like.dtype()).to(like.device());
}

SSM_OP_INFO({.name = "cauchy",
             .nodes = {OpId::cauchy},
             .run = [](const Tensors& in, const json& args) {
               return Tensors{cauchy(in[0], in[1], nodes_tensor(args, in[0]))};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"H 2, M 3, F 5", {randn(g, {2, 3, 2}), poles(g, 2, 3)}, nodes(g, 5)},
                   {"batch (2, 3), H 2, M 4, F 3",
                    {randn(g, {2, 3, 2, 4, 2}), poles(g, 2, 4)}, nodes(g, 3)},
                   {"M 1, F 1", {randn(g, {4, 1, 1, 2}), poles(g, 1, 1)}, nodes(g, 1)},
                   {"non-contiguous v",
                    {randn(g, {3, 2, 5, 2}).permute({1, 0, 2, 3}), poles(g, 3, 5)}, nodes(g, 4)},
               };
             },
             .lowp = false});  // float32 / float64 only

}  // namespace
}  // namespace testing

}  // namespace ssm
