#include "train/adamw.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/reduce_to.h"
#include "ops/elementwise.h"

namespace ssm::train {

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opt) : groups_(std::move(groups)), opt_(opt) {
  SSM_CHECK(opt.lr >= 0, "AdamW: lr must be >= 0, got ", opt.lr);
  SSM_CHECK(opt.beta1 >= 0 && opt.beta1 < 1, "AdamW: beta1 must be in [0, 1), got ", opt.beta1);
  SSM_CHECK(opt.beta2 >= 0 && opt.beta2 < 1, "AdamW: beta2 must be in [0, 1), got ", opt.beta2);
  SSM_CHECK(opt.eps > 0, "AdamW: eps must be > 0, got ", opt.eps);
  for (auto& g : groups_) {
    SSM_CHECK(g.weight_decay >= 0, "AdamW: group '", g.name, "' has negative weight_decay");
    std::vector<State> st;
    for (auto& p : g.params) {
      SSM_CHECK(p.is_leaf() && p.requires_grad(), "AdamW: group '", g.name,
                "' holds a tensor that is not a leaf requiring grad");
      SSM_CHECK(p.device().is_cpu(), "AdamW: no CUDA kernel in this build for ", describe(p));
      SSM_CHECK(p.is_contiguous() && (p.dtype() == DType::f32 || p.dtype() == DType::f64),
                "AdamW: parameters must be contiguous float32/float64 master weights, got ",
                describe(p));
      DType mdt = p.dtype();
      st.push_back({Tensor::zeros(p.shape(), mdt), Tensor::zeros(p.shape(), mdt)});
    }
    state_.push_back(std::move(st));
  }
}

namespace {
template <class T>
void adamw_update(T* p, const T* g, T* m, T* v, int64_t n, double lr, double b1, double b2,
                  double eps, double wd, double bc1, double bc2) {
  const T decay = T(1 - lr * wd), step = T(lr / bc1), rbc2 = T(1 / std::sqrt(bc2));
  parallel_for(0, n, 16384, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T gi = g[i];
      T mi = T(b1) * m[i] + T(1 - b1) * gi;
      T vi = T(b2) * v[i] + T(1 - b2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] * decay - step * mi / (std::sqrt(vi) * rbc2 + T(eps));
    }
  });
}
}  // namespace

void AdamW::step() {
  ++step_;
  double bc1 = 1 - std::pow(opt_.beta1, double(step_));
  double bc2 = 1 - std::pow(opt_.beta2, double(step_));
  NoGradGuard ng;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& group = groups_[gi];
    double lr = opt_.lr * group.lr_scale;
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      const Tensor& p = group.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (grad.dtype() != p.dtype() || !grad.is_contiguous()) grad = grad.to(p.dtype()).contiguous();
      State& s = state_[gi][pi];
      if (p.dtype() == DType::f32)
        adamw_update(p.data<float>(), grad.data<float>(), s.m.data<float>(), s.v.data<float>(),
                     p.numel(), lr, opt_.beta1, opt_.beta2, opt_.eps, group.weight_decay, bc1, bc2);
      else
        adamw_update(p.data<double>(), grad.data<double>(), s.m.data<double>(), s.v.data<double>(),
                     p.numel(), lr, opt_.beta1, opt_.beta2, opt_.eps, group.weight_decay, bc1, bc2);
      ++p.storage()->version;
    }
  }
}

std::vector<AdamW::Slot> AdamW::slots() const {
  std::vector<Slot> out;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      out.push_back({groups_[g].params[i], state_[g][i].m, state_[g][i].v});
  return out;
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  SSM_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  NoGradGuard ng;
  double total = 0;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    Tensor g64 = g.to(DType::f64);
    total += sum_kernel(mul(g64, g64), (1u << g.dim()) - 1, false).item<double>();
  }
  double norm = std::sqrt(total);
  if (norm > max_norm) {
    double scale = max_norm / (norm + 1e-6);
    for (Tensor p : params)
      if (p.grad().defined()) p.set_grad(mul(p.grad(), scale));
  }
  return norm;
}

}  // namespace ssm::train
