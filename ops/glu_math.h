// The GLU's per-element maths, host and device alike (ops/glu.h).
#pragma once

#include <cmath>

#include "core/dtype.h"

namespace ssm::glu_math {

template <class C>
SSM_HD C sigmoid(C b) {
  return C(1) / (C(1) + exp(-b));
}

template <class C>
SSM_HD C forward(C a, C b) {
  return a * sigmoid(b);
}

// dy -> (da, db)
template <class C>
SSM_HD void backward(C a, C b, C dy, C& da, C& db) {
  C s = sigmoid(b);
  da = dy * s;
  db = dy * a * s * (C(1) - s);
}

}  // namespace ssm::glu_math
