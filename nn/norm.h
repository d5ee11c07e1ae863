// LayerNorm and RMSNorm over the last dim, with a learned scale (and shift for LayerNorm),
// initialised to 1 (and 0) as in PyTorch / Hugging Face.
#pragma once

#include "nn/module.h"

namespace ssm::nn {

class LayerNorm : public Module {
 public:
  explicit LayerNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;

  Tensor weight, bias;
  double eps;
};

class RMSNorm : public Module {
 public:
  explicit RMSNorm(int64_t dim, double eps = 1e-5, DType dtype = DType::f32);
  Tensor forward(const Tensor& x) const;

  Tensor weight;
  double eps;
};

}  // namespace ssm::nn
