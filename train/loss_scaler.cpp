#include "train/loss_scaler.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"

namespace ssm::train {

LossScaler::LossScaler(bool enabled, double init_scale, int64_t growth_interval)
    : enabled_(enabled), scale_(init_scale), growth_interval_(growth_interval) {
  SSM_CHECK(init_scale > 0 && growth_interval > 0, "LossScaler: init_scale and growth_interval must be > 0");
}

bool LossScaler::unscale(const std::vector<Tensor>& params) {
  if (!enabled_) return true;
  NoGradGuard ng;
  // One reduction per gradient on its device, one readback in all: the sum of |g| is finite
  // when every element is. (It could also overflow for finite gradients near 1e38 in all; a step
  // with such gradients is better skipped too.)
  Tensor total;
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    Tensor s = sum(abs(g.to(DType::f32))).to(DType::f64);
    total = total.defined() ? add(total, s) : s;
  }
  bool finite = !total.defined() || std::isfinite(total.cpu().item<double>());
  if (!finite) {
    scale_ *= 0.5;
    good_steps_ = 0;
    return false;
  }
  for (Tensor p : params)
    if (p.grad().defined()) p.set_grad(mul(p.grad(), 1.0 / scale_));
  if (++good_steps_ >= growth_interval_) {
    scale_ *= 2.0;
    good_steps_ = 0;
  }
  return true;
}

}  // namespace ssm::train
