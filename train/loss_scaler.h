// Dynamic loss scaling for fp16 training (as torch.cuda.amp.GradScaler):
// the loss is multiplied by `scale` before backward so small fp16 gradients do not flush to zero;
// before the optimizer step the gradients are divided by it again. When any gradient is inf/NaN
// the step is skipped and the scale halved; after `growth_interval` good steps in a row it doubles.
// Disabled (scale 1, every step taken) for fp32 and bf16, whose exponent range needs no scaling.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace ssm::train {

class LossScaler {
 public:
  explicit LossScaler(bool enabled, double init_scale = 65536.0, int64_t growth_interval = 2000);
  bool enabled() const { return enabled_; }
  double scale() const { return enabled_ ? scale_ : 1.0; }
  // Divides every parameter's .grad by the scale. Returns false (and halves the scale, leaving the
  // gradients untouched) when a gradient holds inf or NaN: the caller then skips the step.
  bool unscale(const std::vector<Tensor>& params);

 private:
  bool enabled_;
  double scale_;
  int64_t growth_interval_, good_steps_ = 0;
};

}  // namespace ssm::train
