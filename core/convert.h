// Value conversion between storage types, shared by the CPU copies and the CUDA copy kernels.
//
// Through each side's compute type. Float to integer conversions saturate and send NaN to 0
// instead of invoking undefined behaviour; anything to bool is "!= 0".
#pragma once

#include <cstdint>
#include <type_traits>

#include "core/dtype.h"

namespace ssm {

template <class I>
struct IntRange;
template <>
struct IntRange<int32_t> {
  static constexpr int32_t lo = INT32_MIN, hi = INT32_MAX;
};
template <>
struct IntRange<int64_t> {
  static constexpr int64_t lo = INT64_MIN, hi = INT64_MAX;
};

template <class D, class S>
SSM_HD D convert(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (std::is_same_v<D, bool>) {
    return Scalar<S>::load(v) != acc_t<S>(0);
  } else if constexpr (std::is_integral_v<D> && !std::is_integral_v<acc_t<S>>) {
    double x = double(Scalar<S>::load(v));
    if (x != x) return D(0);
    if (x <= double(IntRange<D>::lo)) return IntRange<D>::lo;
    if (x >= double(IntRange<D>::hi)) return IntRange<D>::hi;
    return D(x);
  } else {
    return Scalar<D>::store(static_cast<acc_t<D>>(Scalar<S>::load(v)));
  }
}

}  // namespace ssm
