// Float maths on the multi-function unit for the CUDA kernels (device code): exp as one MUFU.EX2
// and the sigmoid with the fast division. The float64 paths of the kernels keep exp / division.
#pragma once

#include <cuda_runtime.h>

namespace ssm::cuda {

constexpr float kLog2e = 1.44269504088896340736f, kLn2 = 0.69314718055994530942f;

// 2^x as one MUFU.EX2, results below 2^-126 flushed to zero. (__expf without -ftz also scales
// inputs and outputs around the denormal range: five instructions per exp, measured in the
// selective scan backward's SASS, where exps are a tenth of all instructions.)
__device__ __forceinline__ float ex2_ftz(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
  return y;
}

// 1 / (1 + e^-v) with the fast division (MUFU.RCP and a multiply, 2 ulp): the IEEE division's
// slow-path branch cost more than the rest of the sigmoid. v below about -88 gives 0, above
// about 88 gives 1.
__device__ __forceinline__ float sigmoid_fast(float v) {
  return __fdividef(1.0f, 1.0f + ex2_ftz(-v * kLog2e));
}

}  // namespace ssm::cuda
