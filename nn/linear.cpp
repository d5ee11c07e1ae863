#include "nn/linear.h"

#include <cmath>

#include "core/autocast.h"
#include "core/error.h"
#include "ops/matmul.h"

namespace ssm::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias, Generator& gen,
               DType dtype) {
  SSM_CHECK(in_features > 0 && out_features > 0, "Linear: features must be > 0, got in ",
            in_features, ", out ", out_features);
  double bound = 1.0 / std::sqrt(double(in_features));
  weight = register_parameter(
      "weight", Tensor::uniform({out_features, in_features}, -bound, bound, dtype, &gen));
  if (with_bias)
    bias = register_parameter("bias", Tensor::uniform({out_features}, -bound, bound, dtype, &gen));
}

// Under autocast (core/autocast.h) the product runs in the 16-bit dtype; the casts are
// differentiable, so the float32 weight gets its gradient.
Tensor Linear::forward(const Tensor& x) const {
  return linear(autocast(x), autocast(weight), autocast(bias));
}

}  // namespace ssm::nn
