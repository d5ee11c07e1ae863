// CUDA kernels of the vandermonde op for ops/cuda/vandermonde.cpp (CUDA builds only), plain
// pointers; the contracts are VandermondeKernels' (ops/vandermonde.h). Complex values are
// interleaved pairs of `dtype` (f32 or f64), all contiguous.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "ops/lti_discretization.h"

namespace ssm::cuda {

struct VandermondeLaunch {
  int device = 0;
  DType dtype = DType::f32;
  const void* C = nullptr;   // (Ch, H, M, 2)
  const void* dt = nullptr;  // (H)
  const void* A = nullptr;   // (H, M, 2)
  int64_t Ch = 1, H = 0, M = 0, L = 0;
  LtiDiscretization method = LtiDiscretization::zoh;
};

// K (Ch, H, L): one thread per (h, l), the modes of h staged in shared memory in tiles.
void vandermonde_forward(const VandermondeLaunch& a, void* K);

// g (Ch, H, L) -> dC (Ch, H, M, 2), ddt (H), dA (H, M, 2): one block per (h, m) sums over l (a
// fixed tree, so the result does not depend on scheduling); ddt_modes (H, M) is scratch for the
// per-mode shares of ddt, summed over m in order by a second kernel.
void vandermonde_backward(const VandermondeLaunch& a, const void* g, void* dC, void* ddt, void* dA,
                          void* ddt_modes);

}  // namespace ssm::cuda
