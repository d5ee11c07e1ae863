// vandermonde: the op (checks, one autograd record), the CPU kernels (one thread per channel h,
// every kernel channel inside it so each power Ā^l is computed once), the recurrence helper, and
// the op's test-table entry.
#include "ops/vandermonde.h"

#include <algorithm>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"
#include "ops/vandermonde_mode.h"

namespace ssm {

namespace {

// ---- CPU kernels ----------------------------------------------------------------------------

template <class T>
void forward_t(const VandermondeArgs& a, const Tensor& Kt) {
  const int64_t Ch = a.C.size(0), H = a.C.size(1), M = a.C.size(2), L = a.L;
  const auto* C = reinterpret_cast<const Complex<T>*>(a.C.data<T>());  // (Ch, H, M)
  const auto* A = reinterpret_cast<const Complex<T>*>(a.A.data<T>());  // (H, M)
  const T* dt = a.dt.data<T>();
  T* K = Kt.data<T>();  // (Ch, H, L)
  parallel_for(0, H, grain_for_work(20 * M * L), [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      for (int64_t c = 0; c < Ch; ++c) std::fill(K + (c * H + h) * L, K + (c * H + h + 1) * L, T(0));
      for (int64_t m = 0; m < M; ++m) {
        vdm::Mode<T> md = vdm::mode(dt[h], A[h * M + m], a.method);
        Complex<T> v[vdm::kMaxChannels];
        for (int64_t c = 0; c < Ch; ++c) v[c] = C[(c * H + h) * M + m] * md.bb;
        for (int64_t l = 0; l < L; ++l) {
          Complex<T> e = vdm::power(md.x, T(l));
          for (int64_t c = 0; c < Ch; ++c) K[(c * H + h) * L + l] += T(2) * (v[c] * e).re;
        }
      }
    }
  });
}

template <class T>
void backward_t(const VandermondeArgs& a, const Tensor& gt, const Tensor& dCt, const Tensor& ddtt,
                const Tensor& dAt) {
  const int64_t Ch = a.C.size(0), H = a.C.size(1), M = a.C.size(2), L = a.L;
  const auto* C = reinterpret_cast<const Complex<T>*>(a.C.data<T>());
  const auto* A = reinterpret_cast<const Complex<T>*>(a.A.data<T>());
  const T* dt = a.dt.data<T>();
  const T* g = gt.data<T>();  // (Ch, H, L)
  auto* dC = reinterpret_cast<Complex<T>*>(dCt.data<T>());
  auto* dA = reinterpret_cast<Complex<T>*>(dAt.data<T>());
  T* ddt = ddtt.data<T>();
  parallel_for(0, H, grain_for_work(24 * M * L), [&](int64_t h0, int64_t h1) {
    for (int64_t h = h0; h < h1; ++h) {
      T ddt_h = T(0);
      for (int64_t m = 0; m < M; ++m) {
        vdm::Mode<T> md = vdm::mode(dt[h], A[h * M + m], a.method);
        Complex<T> S0[vdm::kMaxChannels], S1[vdm::kMaxChannels], Cm[vdm::kMaxChannels],
            dCm[vdm::kMaxChannels];
        for (int64_t c = 0; c < Ch; ++c) {
          Cm[c] = C[(c * H + h) * M + m];
          const T* gr = g + (c * H + h) * L;
          Complex<T> s0{}, s1{};
          for (int64_t l = 0; l < L; ++l) {
            Complex<T> w = gr[l] * conj(vdm::power(md.x, T(l)));
            s0 = s0 + w;
            s1 = s1 + T(l) * w;
          }
          S0[c] = s0;
          S1[c] = s1;
        }
        T ddt_m;
        vdm::backward(dt[h], A[h * M + m], a.method, int(Ch), Cm, S0, S1, dCm, ddt_m, dA[h * M + m]);
        for (int64_t c = 0; c < Ch; ++c) dC[(c * H + h) * M + m] = dCm[c];
        ddt_h += ddt_m;
      }
      ddt[h] = ddt_h;
    }
  });
}

void cpu_forward(const VandermondeArgs& a, const Tensor& K) {
  if (a.C.dtype() == DType::f32)
    forward_t<float>(a, K);
  else
    forward_t<double>(a, K);
}

void cpu_backward(const VandermondeArgs& a, const Tensor& g, const Tensor& dC, const Tensor& ddt,
                  const Tensor& dA) {
  if (a.C.dtype() == DType::f32)
    backward_t<float>(a, g, dC, ddt, dA);
  else
    backward_t<double>(a, g, dC, ddt, dA);
}

const VandermondeKernels kCpuKernels = {wide_float_dtypes, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(VandermondeKernels, cpu, kCpuKernels);

void check_inputs(const char* op, const Tensor& C, const Tensor& dt, const Tensor& A,
                  LtiDiscretization method) {
  check_defined(C, op, "C");
  check_defined(dt, op, "dt");
  check_defined(A, op, "A");
  check_same_device(C, dt, op);
  check_same_device(C, A, op);
  SSM_CHECK(C.dtype() == DType::f32 || C.dtype() == DType::f64, op,
            ": C must be float32 or float64, got ", describe(C));
  SSM_CHECK(dt.dtype() == C.dtype() && A.dtype() == C.dtype(), op,
            ": C, dt and A must share one dtype, got ", describe(C), ", ", describe(dt), ", ",
            describe(A));
  SSM_CHECK(C.dim() == 4 && C.size(3) == 2 && C.size(0) >= 1 && C.size(0) <= vdm::kMaxChannels,
            op, ": C must be (channels 1 or 2, H, M, 2), got ", describe(C));
  const int64_t H = C.size(1), M = C.size(2);
  SSM_CHECK(dt.shape() == (Shape{H}), op, ": dt must be (H) = (", H, ") for C ", describe(C),
            ", got ", describe(dt));
  SSM_CHECK(A.shape() == (Shape{H, M, 2}), op, ": A must be (H, M, 2) = ", Shape{H, M, 2},
            " for C ", describe(C), ", got ", describe(A));
  SSM_CHECK(method == LtiDiscretization::zoh || method == LtiDiscretization::bilinear, op,
            ": discretization must be zoh or bilinear, got ", lti_discretization_name(method));
}

}  // namespace

Tensor vandermonde(const Tensor& C, const Tensor& dt, const Tensor& A, int64_t L,
                   LtiDiscretization method) {
  const char* op = "vandermonde";
  check_inputs(op, C, dt, A, method);
  SSM_CHECK(L >= 0, op, ": kernel length L must be >= 0, got ", L);
  const VandermondeKernels& k = kernels<VandermondeKernels>(op, C);
  const int64_t Ch = C.size(0), H = C.size(1);
  VandermondeArgs a{C.detach().contiguous(), dt.detach().contiguous(), A.detach().contiguous(), L,
                    method};
  Tensor K = Tensor::empty({Ch, H, L}, C.dtype(), C.device());
  if (K.numel() > 0) k.forward(a, K);
  if (needs_grad({C, dt, A})) {
    Saved sC(a.C), sdt(a.dt), sA(a.A);
    record(OpId::vandermonde, {C, dt, A}, K, [sC, sdt, sA, L, method, &k](Grads& g) {
      NoGradGuard ng;
      VandermondeArgs a{sC.get(), sdt.get(), sA.get(), L, method};
      const DType dty = a.C.dtype();
      const Device dev = a.C.device();
      Tensor gK = g.out[0].to(dty).contiguous();
      Tensor dC = Tensor::empty(a.C.shape(), dty, dev), ddt = Tensor::empty(a.dt.shape(), dty, dev),
             dA = Tensor::empty(a.A.shape(), dty, dev);
      if (L == 0 || a.C.numel() == 0) {
        dC = Tensor::zeros(a.C.shape(), dty, dev);
        ddt = Tensor::zeros(a.dt.shape(), dty, dev);
        dA = Tensor::zeros(a.A.shape(), dty, dev);
      } else {
        k.backward(a, gK, dC, ddt, dA);
      }
      if (g.needs(0)) g.in[0] = dC;
      if (g.needs(1)) g.in[1] = ddt;
      if (g.needs(2)) g.in[2] = dA;
    });
  }
  return K;
}

VandermondeRecurrence vandermonde_recurrence(const Tensor& C, const Tensor& dt, const Tensor& A,
                                             LtiDiscretization method) {
  const char* op = "vandermonde_recurrence";
  check_inputs(op, C, dt, A, method);
  NoGradGuard ng;
  // Small (H, M) work, once per decoding state: on the host in float64.
  Tensor Cd = C.detach().cpu().to(DType::f64).contiguous();
  Tensor dtd = dt.detach().cpu().to(DType::f64).contiguous();
  Tensor Ad = A.detach().cpu().to(DType::f64).contiguous();
  const int64_t Ch = C.size(0), H = C.size(1), M = C.size(2);
  Tensor Ab = Tensor::empty({H, M, 2}, DType::f64), CB = Tensor::empty({Ch, H, M, 2}, DType::f64);
  const auto* Cp = reinterpret_cast<const Complex<double>*>(Cd.data<double>());
  const auto* Ap = reinterpret_cast<const Complex<double>*>(Ad.data<double>());
  auto* abp = reinterpret_cast<Complex<double>*>(Ab.data<double>());
  auto* cbp = reinterpret_cast<Complex<double>*>(CB.data<double>());
  for (int64_t h = 0; h < H; ++h)
    for (int64_t m = 0; m < M; ++m) {
      vdm::Mode<double> md = vdm::mode(dtd.data<double>()[h], Ap[h * M + m], method);
      abp[h * M + m] = md.ab;
      for (int64_t c = 0; c < Ch; ++c) cbp[(c * H + h) * M + m] = Cp[(c * H + h) * M + m] * md.bb;
    }
  return {Ab.to(C.dtype()).to(C.device()), CB.to(C.dtype()).to(C.device())};
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/vandermonde.py, s4d.py's kernel in
// complex torch) ------------------------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// A (H, M, 2) with Re < 0 (a stable system), as S4D's parameterisation keeps it.
Tensor stable_A(Generator& g, int64_t H, int64_t M) {
  Tensor re = uniform(g, {H, M, 1}, -1.5, -0.1), im = uniform(g, {H, M, 1}, -4.0, 4.0);
  std::vector<double> v(size_t(H * M * 2));
  auto r = re.to_vector<double>(), i = im.to_vector<double>();
  for (size_t k = 0; k < size_t(H * M); ++k) {
    v[2 * k] = r[k];
    v[2 * k + 1] = i[k];
  }
  return Tensor::from_vector(v, {H, M, 2});
}

SSM_OP_INFO({.name = "vandermonde",
             .nodes = {OpId::vandermonde},
             .run = [](const Tensors& in, const json& args) {
               return Tensors{vandermonde(in[0], in[1], in[2], args.at("L").get<int64_t>(),
                                          parse_lti_discretization(args.at("method")))};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"zoh, H 3, M 4, L 10",
                    {randn(g, {1, 3, 4, 2}), uniform(g, {3}, 0.01, 0.3), stable_A(g, 3, 4)},
                    {{"L", 10}, {"method", "zoh"}}},
                   {"zoh, two channels (bidirectional), L 7",
                    {randn(g, {2, 2, 3, 2}), uniform(g, {2}, 0.01, 0.3), stable_A(g, 2, 3)},
                    {{"L", 7}, {"method", "zoh"}}},
                   {"bilinear, H 2, M 5, L 9",
                    {randn(g, {1, 2, 5, 2}), uniform(g, {2}, 0.01, 0.3), stable_A(g, 2, 5)},
                    {{"L", 9}, {"method", "bilinear"}}},
                   {"bilinear, two channels, L 1",
                    {randn(g, {2, 3, 2, 2}), uniform(g, {3}, 0.01, 0.3), stable_A(g, 3, 2)},
                    {{"L", 1}, {"method", "bilinear"}}},
                   {"zoh, large steps (Im dt A beyond pi), L 12",
                    {randn(g, {1, 2, 3, 2}), uniform(g, {2}, 1.0, 2.0), stable_A(g, 2, 3)},
                    {{"L", 12}, {"method", "zoh"}}},
               };
             },
             .lowp = false});  // float32 / float64 only

}  // namespace
}  // namespace testing

}  // namespace ssm
