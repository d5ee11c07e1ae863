// Linear: y = x W^T + b, W: (out_features, in_features), b: (out_features).
// Initialised as torch.nn.Linear: W, b ~ U(-1/sqrt(in), 1/sqrt(in)).
#pragma once

#include "core/rng.h"
#include "nn/module.h"

namespace ssm::nn {

class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias, Generator& gen,
         DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;  // x: (..., in) -> (..., out)

  Tensor weight, bias;  // bias undefined when built without one
};

}  // namespace ssm::nn
