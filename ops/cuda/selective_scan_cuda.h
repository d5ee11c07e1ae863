// CUDA selective scan: plain-pointer launchers for the op's CUDA kernel table
// (ops/cuda/selective_scan.cpp; CUDA builds only), defined in ops/cuda/selective_scan_forward.cu,
// _backward.cu and _plan.cu. The maths is the CPU op's (ops/selective_scan.h); this header only
// moves pointers and strides.
//
// Inputs may be strided and of any floating dtype each (loaded and converted in the kernels);
// arithmetic is float64 when `f64` is set (u is float64), float32 otherwise. Everything runs on
// the legacy default stream of `device`. Scratch memory comes from the caching allocator.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace ssm::cuda {

// A tensor argument: its first element, dtype and element strides (dims beyond its rank: 0).
// A null pointer means the optional input is absent.
struct ScanArg {
  const void* p = nullptr;
  DType dtype = DType::f32;
  int64_t s[3] = {0, 0, 0};
};

struct ScanProblem {
  int device = 0;
  int64_t B = 0, L = 0, D = 0, N = 0;
  int64_t chunk = 64;   // steps between the states the forward keeps for backward
  bool f64 = false;     // compute in float64
  int discretization = 0;  // 0 zoh, 1 zoh_exact, 2 generalized bilinear with `alpha`
  double alpha = 0.5;
  bool softplus = true;
  // u, delta, z: (B, L, D); A: (D, N); Bm, Cm: (B, L, N); Dskip, bias: (D)
  ScanArg u, delta, A, Bm, Cm, Dskip, z, bias;
  // (B, L) contiguous int32, nonzero where a sequence starts (the state is reset before that
  // step: Ā taken as 0 there, forward and backward), or null. Not used by selective_scan_step.
  const int32_t* seq_start = nullptr;
};

// Number of saved states per batch row: max(1, ceil(L / chunk)).
int64_t scan_chunks(const ScanProblem& p);

struct ScanForward {
  void* out = nullptr;          // (B, L, D), contiguous, in out_dtype
  DType out_dtype = DType::f32;
  void* states = nullptr;       // (B, scan_chunks, N, D) in the compute dtype; null: not kept
  void* final_state = nullptr;  // (B, D, N) in the compute dtype; null: not wanted
  int state_tile = 0;           // states per thread (2, 4, 8 or 16); 0: the tuning's, else by N
};
void selective_scan_forward(const ScanProblem& p, const ScanForward& f);

// A gradient to write: contiguous, shaped like its input, in `dtype`; null: not wanted.
struct ScanGrad {
  void* p = nullptr;
  DType dtype = DType::f32;
};

struct ScanBackward {
  const void* states = nullptr;  // as written by the forward (compute dtype)
  ScanArg gout;                  // (B, L, D) gradient of out
  ScanGrad du, ddelta, dA, dB, dC, dD, dz, dbias;
  int state_tile = 0;            // states per thread (2, 4 or 8); 0: the tuning's, else by N
};
void selective_scan_backward(const ScanProblem& p, const ScanBackward& g);

// Launch-shape overrides, process-wide, for benchmark sweeps and tests; 0 keeps the launchers'
// own pick. Tiles: states per thread (as state_tile above). Segments: the sequence is split into
// that many time segments (whole chunks; at most the chunk count) scanned by separate blocks and
// chained through their carries (more parallelism when batch x channels is small, one extra
// recurrence per step). Register tilings other than 4 apply to float32 zoh without seq_start
// only; the other variants always use 4.
struct ScanTuning {
  int fwd_tile = 0, bwd_tile = 0;
  int fwd_segments = 0, bwd_segments = 0;
  int bwd_slices = 0;  // most warps (slices of states) per backward block, 1 to 8 (own pick: 4)
};
void set_scan_tuning(const ScanTuning& t);
ScanTuning scan_tuning();

// One recurrent step: p.L must be 1 (u, delta, z, Bm, Cm carry a length-1 time dim). `state`
// (B, D, N) in the compute dtype is updated in place; out is (B, D) contiguous in out_dtype.
void selective_scan_step(const ScanProblem& p, void* state, void* out, DType out_dtype);

}  // namespace ssm::cuda
