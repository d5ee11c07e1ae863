// The GLU's per-element maths, host and device alike (ops/glu.h), on the sigmoid op's own
// functor (ops/unary_functors.h), so that glu rounds as sigmoid(b) * a does.
#pragma once

#include "ops/unary_functors.h"

namespace ssm::glu_math {

template <class C>
SSM_HD C forward(C a, C b) {
  return a * fn::Sigmoid::f(b, UnaryParams{});
}

// dy -> (da, db)
template <class C>
SSM_HD void backward(C a, C b, C dy, C& da, C& db) {
  C s = fn::Sigmoid::f(b, UnaryParams{});
  da = dy * s;
  db = dy * a * fn::Sigmoid::df(b, s, UnaryParams{});
}

}  // namespace ssm::glu_math
