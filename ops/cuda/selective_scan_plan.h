// CUDA selective scan: the host-side plan shared by the forward and backward launchers
// (ops/cuda/selective_scan_forward.cu, ops/cuda/selective_scan_backward.cu), defined in
// ops/cuda/selective_scan_plan.cu: passes and slices, time segments, which inputs allow the
// tuned and bfloat16 kernel variants. Plain host code; the templates that pick and launch the
// kernel variants are in ops/cuda/selective_scan_common.cuh.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "ops/cuda/selective_scan_cuda.h"

namespace ssm::cuda::scan_plan {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Splits N into P passes of npp = S * NT states (S <= max_slices warps).
void plan_passes(int64_t N, int NT, int max_slices, int& P, int& npp, int& S);

int sm_count(int device);

// Splits the nc chunks into nseg segments of seg_len steps (whole chunks): `req` of them when
// set, else as many as one wave of blocks holds (`blocks` per segment, `per_sm` resident per
// multiprocessor). The reasons and the measurements behind them: selective_scan_plan.cu.
void plan_segments(const ScanProblem& pr, int64_t blocks, int per_sm, int req, int& nseg,
                   int64_t& seg_len);

void zero_fill(void* q, size_t bytes);
size_t dsize(DType t);

// Whether pr takes the tuned path (float32 arithmetic, zoh, no reset flags), which has every
// register tiling (kTuned in selective_scan_common.cuh).
bool tuned_path(const ScanProblem& pr);

// Whether a (B, L, D) activation can be staged 4 channels at a time (8-byte loads; see issue in
// selective_scan_common.cuh): channel stride 1, rows and batches a multiple of 4 elements apart,
// 8-byte aligned. Absent: yes.
bool vec_ok(const ScanArg& a);

// Whether every activation the kernels read (u, delta, z, B, C) is bfloat16: with the outputs
// (and, backward, the output gradient) the caller checks, the BF variants apply. The backward's
// stage a channel per lane, so dtypes are all they need; the forward's stage u, delta and z 4
// channels at a time (vec_layout).
bool bf16_inputs(const ScanProblem& pr);
bool vec_layout(const ScanProblem& pr);

}  // namespace ssm::cuda::scan_plan
