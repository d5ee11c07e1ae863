// CUDA selective scan: the host-side plan shared by the forward and backward launchers
// (declared in ops/cuda/selective_scan_plan.h), and the process-wide tuning overrides.
#include <cuda_runtime.h>

#include <algorithm>

#include "core/cuda/runtime.h"
#include "core/error.h"
#include "ops/cuda/selective_scan_cuda.h"
#include "ops/cuda/selective_scan_plan.h"

namespace ssm::cuda {

namespace {

ScanTuning g_tuning;

}  // namespace

namespace scan_plan {

void plan_passes(int64_t N, int NT, int max_slices, int& P, int& npp, int& S) {
  const int64_t per = int64_t(max_slices) * NT;
  P = int(ceil_div(N, per));
  npp = int(ceil_div(ceil_div(N, P), NT) * NT);
  S = npp / NT;
}

int sm_count(int device) {
  int n = 0;
  SSM_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, device) == cudaSuccess,
            "selective_scan (CUDA): cannot read the multiprocessor count");
  return n;
}

// The recurrences are latency bound, so more blocks in flight run faster until the GPU is
// full, but each split costs one more recurrence (the carry pass) and a second wave costs a
// whole one. From the H200 sweeps in docs/scan_kernel.md: the forward at (2, 1536, 8192, 16)
// (96 blocks a segment, 4 resident per SM) took 0.685 / 0.654 / 0.543 / 0.453 / 0.414 / 0.462 /
// 0.442 ms at 1 / 2 / 3 / 4 / 5 / 6 / 8 segments (5 is the last that fits one wave), the backward
// (3 resident) was fastest at 4; (8, 1536, 2048, 16), 384 blocks, is slower split.
void plan_segments(const ScanProblem& pr, int64_t blocks, int per_sm, int req, int& nseg,
                   int64_t& seg_len) {
  const int64_t nc = scan_chunks(pr);
  int64_t want =
      req > 0 ? req : int64_t(per_sm) * sm_count(pr.device) / std::max<int64_t>(blocks, 1);
  want = std::clamp<int64_t>(want, 1, nc);
  const int64_t cps = ceil_div(nc, want);
  nseg = int(ceil_div(nc, cps));
  seg_len = cps * pr.chunk;
}

void zero_fill(void* q, size_t bytes) {
  if (q && bytes) fill_bytes(q, 0, bytes);
}

size_t dsize(DType t) { return size_t(dtype_size(t)); }

bool tuned_path(const ScanProblem& pr) {
  return !pr.f64 && pr.discretization == 0 && !pr.seq_start;
}

bool vec_ok(const ScanArg& a) {
  return !a.p || (a.s[2] == 1 && a.s[1] % 4 == 0 && a.s[0] % 4 == 0 &&
                  reinterpret_cast<uintptr_t>(a.p) % 8 == 0);
}

bool bf16_inputs(const ScanProblem& pr) {
  const bool z_ok = !pr.z.p || pr.z.dtype == DType::bf16;
  return pr.u.dtype == DType::bf16 && pr.delta.dtype == DType::bf16 &&
         pr.Bm.dtype == DType::bf16 && pr.Cm.dtype == DType::bf16 && z_ok;
}
bool vec_layout(const ScanProblem& pr) {
  return pr.D % 4 == 0 && vec_ok(pr.u) && vec_ok(pr.delta) && vec_ok(pr.z);
}

}  // namespace scan_plan

void set_scan_tuning(const ScanTuning& t) { g_tuning = t; }
ScanTuning scan_tuning() { return g_tuning; }

int64_t scan_chunks(const ScanProblem& p) {
  return std::max<int64_t>(1, scan_plan::ceil_div(p.L, p.chunk));
}

}  // namespace ssm::cuda
