// Multi-tensor optimizer ops: argument checks over the kernel tables, and the CPU loops (the CUDA
// table, one launch per call for the whole list, is ops/cuda/optim.cpp).
#include "ops/optim.h"

#include <cmath>
#include <type_traits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/reduce_to.h"
#include "core/strided.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"

namespace ssm {

namespace {

DType state_dtype(DType param) { return param == DType::f64 ? DType::f64 : DType::f32; }

// The update of train/adamw.cpp, term for term, in the param's compute type C.
template <class P, class G>
void adamw_cpu(const Tensor& pt, const Tensor& gt, const Tensor& mt, const Tensor& vt, double b1,
               double b2, double eps, double decay_d, double step_d, double rbc2_d) {
  using C = std::conditional_t<std::is_same_v<P, double>, double, float>;
  P* p = static_cast<P*>(pt.raw_data());
  const G* g = static_cast<const G*>(gt.raw_data());
  C* m = static_cast<C*>(mt.raw_data());
  C* v = static_cast<C*>(vt.raw_data());
  const C decay = C(decay_d), step = C(step_d), rbc2 = C(rbc2_d);
  parallel_for(0, pt.numel(), 16384, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      C gi = C(Scalar<G>::load(g[i]));
      C mi = C(b1) * m[i] + C(1 - b1) * gi;
      C vi = C(b2) * v[i] + C(1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      C pi = C(Scalar<P>::load(p[i]));
      p[i] = Scalar<P>::store(static_cast<acc_t<P>>(pi * decay - step * mi / (std::sqrt(vi) * rbc2 + C(eps))));
    }
  });
}

// ---- CPU kernels ----------------------------------------------------------------------------

void cpu_adamw_step(const AdamWArgs& a) {
  NoGradGuard ng;
  for (size_t i = 0; i < a.params.size(); ++i) {
    Tensor g = a.grads[i].is_contiguous() ? a.grads[i] : a.grads[i].contiguous();
    double decay = 1 - a.lr[i] * a.weight_decay[i], step_size = a.lr[i] / a.bc1;
    SSM_DISPATCH_FLOAT(a.params[i].dtype(), "adamw_step_", [&] {
      using P = scalar_t;
      SSM_DISPATCH_FLOAT(g.dtype(), "adamw_step_", [&] {
        adamw_cpu<P, scalar_t>(a.params[i], g, a.exp_avg[i], a.exp_avg_sq[i], a.beta1, a.beta2,
                               a.eps, decay, step_size, a.rbc2);
      });
    });
    if (Tensor sh = a.shadows[i]; sh.defined()) sh.copy_(a.params[i]);
  }
}

// The sum of each tensor's float64 sum(x * x), in list order.
Tensor cpu_global_norm(const std::vector<Tensor>& tensors) {
  double total = 0;
  for (const Tensor& t : tensors) {
    Tensor t64 = t.to(DType::f64);
    total += sum_kernel(mul(t64, t64), (1u << t.dim()) - 1, false).item<double>();
  }
  return Tensor::scalar(std::sqrt(total), DType::f64);
}

void cpu_scale(const std::vector<Tensor>& tensors, double scale) {
  for (const Tensor& t : tensors) {
    SSM_DISPATCH_FLOAT(t.dtype(), "scale_", [&] {
      using S = Scalar<scalar_t>;
      const acc_t<scalar_t> s = S::load(S::store(acc_t<scalar_t>(scale)));
      scalar_t* p = static_cast<scalar_t*>(t.raw_data());
      for_each_strided<1>(t.shape(), {t.strides()},
                          [&](const std::array<int64_t, 1>& off, int64_t k,
                              const std::array<int64_t, 1>& st) {
                            scalar_t* q = p + off[0];
                            for (int64_t i = 0; i < k; ++i) q[i * st[0]] = S::store(S::load(q[i * st[0]]) * s);
                          });
    });
  }
}

const OptimKernels kCpuKernels = {floating_dtypes, cpu_adamw_step, cpu_global_norm, cpu_scale};
SSM_REGISTER_KERNELS(OptimKernels, cpu, kCpuKernels);

// ---- shared by the ops --------------------------------------------------------------------------

Device common_device(const std::vector<Tensor>& ts, const char* op) {
  Device dev = Device::cpu();
  bool first = true;
  for (const Tensor& t : ts) {
    if (!t.defined()) continue;
    if (first) dev = t.device();
    SSM_CHECK(t.device() == dev, op, ": tensors on ", dev, " and ", t.device(),
              " (expected one device); got ", describe(t));
    first = false;
  }
  return dev;
}

// The kernels for the tensors' device (checked to be one); an empty list runs on the CPU.
const OptimKernels& optim_kernels(const char* op, const std::vector<Tensor>& ts) {
  common_device(ts, op);
  for (const Tensor& t : ts)
    if (t.defined()) return kernels<OptimKernels>(op, t);
  return kCpuKernels;
}

}  // namespace

void adamw_step_(const std::vector<Tensor>& params, const std::vector<Tensor>& grads,
                 const std::vector<Tensor>& exp_avg, const std::vector<Tensor>& exp_avg_sq,
                 const std::vector<double>& lr, const std::vector<double>& weight_decay,
                 double beta1, double beta2, double eps, int64_t step,
                 const std::vector<Tensor>& shadows) {
  size_t n = params.size();
  SSM_CHECK(grads.size() == n && exp_avg.size() == n && exp_avg_sq.size() == n && lr.size() == n &&
                weight_decay.size() == n,
            "adamw_step_: expects one grad, exp_avg, exp_avg_sq, lr and weight_decay per param, got ",
            n, " params, ", grads.size(), " grads, ", exp_avg.size(), " exp_avg, ",
            exp_avg_sq.size(), " exp_avg_sq, ", lr.size(), " lr, ", weight_decay.size(),
            " weight_decay");
  SSM_CHECK(step >= 1, "adamw_step_: step counts from 1, got ", step);
  double bc1 = 1 - std::pow(beta1, double(step));
  double bc2 = 1 - std::pow(beta2, double(step));
  double rbc2 = 1 / std::sqrt(bc2);
  std::vector<Tensor> all;
  for (size_t i = 0; i < n; ++i) {
    const Tensor &p = params[i], &g = grads[i], &m = exp_avg[i], &v = exp_avg_sq[i];
    check_defined(p, "adamw_step_", "param");
    check_defined(g, "adamw_step_", "grad");
    check_defined(m, "adamw_step_", "exp_avg");
    check_defined(v, "adamw_step_", "exp_avg_sq");
    SSM_CHECK(is_floating(p.dtype()) && p.is_contiguous(), "adamw_step_: param ", i,
              " must be a contiguous float32, float64, bfloat16 or float16 tensor, got ",
              describe(p));
    SSM_CHECK(is_floating(g.dtype()) && g.shape() == p.shape(), "adamw_step_: grad ", i, " (",
              describe(g), ") must be floating and shaped like its param (", describe(p), ")");
    DType sd = state_dtype(p.dtype());
    for (const Tensor* s : {&m, &v})
      SSM_CHECK(s->dtype() == sd && s->shape() == p.shape() && s->is_contiguous(),
                "adamw_step_: the moments of param ", i, " (", describe(p), ") must be contiguous ",
                sd, " tensors of its shape, got ", describe(*s));
    all.insert(all.end(), {p, g, m, v});
  }
  SSM_CHECK(shadows.empty() || shadows.size() == n, "adamw_step_: expects no shadows or one per "
            "param (undefined where none), got ", shadows.size(), " for ", n, " params");
  for (size_t i = 0; i < shadows.size(); ++i) {
    const Tensor& sh = shadows[i];
    if (!sh.defined()) continue;
    SSM_CHECK((sh.dtype() == DType::bf16 || sh.dtype() == DType::f16) && sh.is_contiguous() &&
                  sh.shape() == params[i].shape() && sh.device() == params[i].device() &&
                  params[i].dtype() != DType::f64,
              "adamw_step_: the shadow of param ", i, " (", describe(params[i]),
              ") must be a contiguous bfloat16 / float16 tensor of its shape on its device, got ",
              describe(sh));
  }
  const OptimKernels& k = optim_kernels("adamw_step_", all);
  AdamWArgs a{params, grads, exp_avg, exp_avg_sq, lr, weight_decay, shadows, beta1, beta2, eps,
              bc1, rbc2};
  a.shadows.resize(n);
  k.adamw_step(a);
  for (size_t i = 0; i < n; ++i) {
    for (const Tensor* t : {&params[i], &exp_avg[i], &exp_avg_sq[i]}) ++t->storage()->version;
    if (const Tensor& sh = a.shadows[i]; sh.defined()) ++sh.storage()->version;
  }
}

Tensor global_grad_norm(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) {
    check_defined(t, "global_grad_norm", "tensor");
    SSM_CHECK(is_floating(t.dtype()), "global_grad_norm: expects floating tensors, got ",
              describe(t));
  }
  const OptimKernels& k = optim_kernels("global_grad_norm", tensors);
  NoGradGuard ng;
  return k.global_norm(tensors);
}

void scale_(const std::vector<Tensor>& tensors, double scale) {
  for (const Tensor& t : tensors) {
    check_defined(t, "scale_", "tensor");
    SSM_CHECK(is_floating(t.dtype()), "scale_: expects floating tensors, got ", describe(t));
  }
  optim_kernels("scale_", tensors).scale(tensors, scale);
  for (const Tensor& t : tensors) ++t.storage()->version;
}

}  // namespace ssm
