// Float64 gradient check against central finite differences.
//
// For outputs y_k = f(inputs) and random upstream gradients v_k, compares the autograd gradient
// of L = sum_k <y_k, v_k> with (L(x + eps e_j) - L(x - eps e_j)) / 2 eps for every element j of
// every checked input. Inputs keep their layout (non-contiguous views stay non-contiguous), and
// perturbations are written through their strides.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "ops/op_info.h"  // GradcheckOptions

namespace ssm::testing {

using Fn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

// `check[i]` says whether input i is differentiated (it must then be float64).
// Returns an empty string on success, else a description of the first mismatch.
std::string gradcheck(const Fn& f, const std::vector<Tensor>& inputs, const std::vector<bool>& check,
                      const GradcheckOptions& opt = {});

}  // namespace ssm::testing
