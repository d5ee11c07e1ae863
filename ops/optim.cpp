// Multi-tensor optimizer ops: argument checks, the CPU loops, and the dispatch of CUDA tensors to
// ops/cuda/optim.cu (one launch per call for the whole list).
#include "ops/optim.h"

#include <cmath>
#include <type_traits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/reduce_to.h"
#include "core/strided.h"
#include "ops/elementwise.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/optim_cuda.h"
#endif

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
  auto shadow = [&](size_t i) { return i < shadows.size() ? shadows[i] : Tensor(); };
  Device dev = common_device(all, "adamw_step_");
#ifdef SSM_WITH_CUDA
  if (dev.is_cuda()) {
    std::vector<cuda::AdamWEntry> entries;
    for (size_t i = 0; i < n; ++i) {
      SSM_CHECK(grads[i].is_contiguous(), "adamw_step_: grad ", i, " (", describe(grads[i]),
                ") must be contiguous on CUDA");
      cuda::AdamWEntry e;
      e.p = params[i].raw_data();
      e.g = grads[i].raw_data();
      e.m = exp_avg[i].raw_data();
      e.v = exp_avg_sq[i].raw_data();
      e.n = params[i].numel();
      e.decay = 1 - lr[i] * weight_decay[i];
      e.step_size = lr[i] / bc1;
      e.p_dtype = params[i].dtype();
      e.g_dtype = grads[i].dtype();
      if (Tensor sh = shadow(i); sh.defined()) {
        e.shadow = sh.raw_data();
        e.shadow_dtype = sh.dtype();
      }
      entries.push_back(e);
    }
    cuda::adamw_step(entries, beta1, beta2, eps, rbc2, dev.index);
  } else
#endif
  {
    SSM_CHECK(dev.is_cpu(), "adamw_step_: no CUDA kernel in this build for ", describe(params[0]));
    NoGradGuard ng;
    for (size_t i = 0; i < n; ++i) {
      Tensor g = grads[i].is_contiguous() ? grads[i] : grads[i].contiguous();
      double decay = 1 - lr[i] * weight_decay[i], step_size = lr[i] / bc1;
      SSM_DISPATCH_FLOAT(params[i].dtype(), "adamw_step_", [&] {
        using P = scalar_t;
        SSM_DISPATCH_FLOAT(g.dtype(), "adamw_step_", [&] {
          adamw_cpu<P, scalar_t>(params[i], g, exp_avg[i], exp_avg_sq[i], beta1, beta2, eps, decay,
                                 step_size, rbc2);
        });
      });
      if (Tensor sh = shadow(i); sh.defined()) sh.copy_(params[i]);
    }
  }
  for (size_t i = 0; i < n; ++i) {
    for (const Tensor* t : {&params[i], &exp_avg[i], &exp_avg_sq[i]}) ++t->storage()->version;
    if (Tensor sh = shadow(i); sh.defined()) ++sh.storage()->version;
  }
}

Tensor global_grad_norm(const std::vector<Tensor>& tensors) {
  for (const Tensor& t : tensors) {
    check_defined(t, "global_grad_norm", "tensor");
    SSM_CHECK(is_floating(t.dtype()), "global_grad_norm: expects floating tensors, got ",
              describe(t));
  }
  Device dev = common_device(tensors, "global_grad_norm");
  NoGradGuard ng;
#ifdef SSM_WITH_CUDA
  if (dev.is_cuda()) {
    std::vector<cuda::NormEntry> entries;
    for (const Tensor& t : tensors) {
      SSM_CHECK(t.is_contiguous(), "global_grad_norm: expects contiguous tensors on CUDA, got ",
                describe(t));
      entries.push_back({t.raw_data(), t.numel(), t.dtype()});
    }
    Tensor out = Tensor::empty(Shape{}, DType::f64, dev);
    cuda::global_norm(entries, static_cast<double*>(out.raw_data()), dev.index);
    return out;
  }
#endif
  SSM_CHECK(dev.is_cpu(), "global_grad_norm: no CUDA kernel in this build for ", describe(tensors[0]));
  double total = 0;
  for (const Tensor& t : tensors) {
    Tensor t64 = t.to(DType::f64);
    total += sum_kernel(mul(t64, t64), (1u << t.dim()) - 1, false).item<double>();
  }
  return Tensor::scalar(std::sqrt(total), DType::f64);
}

void scale_(const std::vector<Tensor>& tensors, double scale) {
  for (const Tensor& t : tensors) {
    check_defined(t, "scale_", "tensor");
    SSM_CHECK(is_floating(t.dtype()), "scale_: expects floating tensors, got ", describe(t));
  }
  Device dev = common_device(tensors, "scale_");
#ifdef SSM_WITH_CUDA
  if (dev.is_cuda()) {
    std::vector<cuda::NormEntry> entries;
    for (const Tensor& t : tensors) {
      SSM_CHECK(t.is_contiguous(), "scale_: expects contiguous tensors on CUDA, got ", describe(t));
      entries.push_back({t.raw_data(), t.numel(), t.dtype()});
    }
    cuda::scale(entries, scale, dev.index);
  } else
#endif
  {
    SSM_CHECK(dev.is_cpu(), "scale_: no CUDA kernel in this build for ", describe(tensors[0]));
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
  for (const Tensor& t : tensors) ++t.storage()->version;
}

}  // namespace ssm
