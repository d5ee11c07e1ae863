// CUDA selective scan: what the forward and backward kernel files share
// (ops/cuda/selective_scan_forward.cu, ops/cuda/selective_scan_backward.cu): the maths in the
// compute type, the kernel parameters, the staging of input tiles, the time-segment carries, and
// the host-side templates that pick and launch kernel variants (the plain host-side plan:
// ops/cuda/selective_scan_plan.h). Everything is in an anonymous namespace: each kernel file
// instantiates the kernels it launches.
//
// Layout of the work (forward and backward alike). A block owns one batch row b, 32 consecutive
// channels (one per lane, so every warp reads 32 consecutive channels of the channels-last
// inputs) and the states of one "pass": S slices of NT states, warp s holding slice s of its
// lane's channel in registers (forward: NT 4, 8 or 16, S <= 16; backward: NT 4 or 8, S <= 8).
// Time is walked sequentially in tiles of T steps: the block stages a tile in shared memory (Δ
// bias + softplus once per (t, channel), not once per slice) while the loads of the next tile are
// already in flight in registers; every thread advances its NT recurrences through the tile; the
// per-slice partial sums over states are then combined through shared memory in a fixed order.
// N beyond one pass runs as several passes (grid z) whose partial outputs a second kernel adds in
// pass order. Every reduction has a fixed order, so results are bitwise reproducible run to run;
// no float atomics are used.
//
// When batch x channels leave the GPU short of warps, time is split into segments of whole
// chunks scanned by separate blocks (grid z), chained through per-segment carries (scan_carry,
// scan_chain below): forward and backward alike.
//
// Timings, the profile and what to try next: docs/scan_kernel.md.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"
#include "ops/cuda/fast_math.cuh"
#include "ops/cuda/selective_scan_cuda.h"
#include "ops/cuda/selective_scan_plan.h"
#include "ops/cuda/typed_access.cuh"
#include "ops/discretization.h"

namespace ssm::cuda {

namespace {

constexpr int kMaxSlices = 16;    // warps per block (forward)
constexpr int kMaxSlicesBwd = 8;  // warps per block (backward: more registers per thread)
constexpr int kMaxSlicesCarry = 4;  // warps per block (segment carries)
// Tiles are sized to fit this much shared memory (more blocks per multiprocessor), except that
// the backward keeps sub-chunks of at least 4 steps (fewer barriers per step). The backward's
// target is larger: at 48 KB its sub-chunks shrank to 10 steps for N = 16; at 80 KB they keep 16
// (fewer barriers and sub-chunk set-ups), which made fwd+bwd 2-17% faster at the four benchmark
// shapes on an H200 (3.62 -> 3.11 ms at (8,1536,2048,16)); 120 KB lost 6% at N = 64.
constexpr size_t kSmemTarget = 48 << 10;
constexpr size_t kSmemTargetBwd = 80 << 10;

template <class C>
__device__ __forceinline__ C ld3(const ScanArg& a, int64_t i0, int64_t i1, int64_t i2) {
  return ld_any<C>(a.p, i0 * a.s[0] + i1 * a.s[1] + i2 * a.s[2], a.dtype);
}
template <class C>
__device__ __forceinline__ C ld1(const ScanArg& a, int64_t i0) {
  return ld_any<C>(a.p, i0 * a.s[0], a.dtype);
}

__device__ __forceinline__ int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }

// ---- maths in the compute type (float: fast exp, as the CPU path's fast_expf) -----------------

// ex2_ftz, kLog2e, kLn2: ops/cuda/fast_math.cuh.
__device__ __forceinline__ float exp_c(float x) { return ex2_ftz(x * kLog2e); }
__device__ __forceinline__ double exp_c(double x) { return exp(x); }
__device__ __forceinline__ float expm1_c(float x) { return expm1f(x); }
__device__ __forceinline__ double expm1_c(double x) { return expm1(x); }
// log(1 + e^v) = max(v, 0) + log1p(u), u = e^-|v| in (0, 1], and log1p(u) = 2 atanh(s) with
// s = u / (2 + u) in (0, 1/3]: the odd series to s^13 (the next term is below 2e-8 of the sum).
// About 16 instructions without a branch, where log1pf took ~35 with several (the staging's
// largest single cost in the forward's SASS). Above v = 20 it returns v exactly, as PyTorch's
// threshold does (the log1p term is below half an ulp of v there).
__device__ __forceinline__ float softplus_c(float v) {
  const float u = exp_c(-fabsf(v));
  const float s = __fdividef(u, 2.0f + u), s2 = s * s;
  float q = 1.0f / 13;
  q = q * s2 + 1.0f / 11;
  q = q * s2 + 1.0f / 9;
  q = q * s2 + 1.0f / 7;
  q = q * s2 + 1.0f / 5;
  q = q * s2 + 1.0f / 3;
  q = q * s2 + 1.0f;
  return fmaxf(v, 0.0f) + 2.0f * s * q;
}
__device__ __forceinline__ double softplus_c(double v) { return v > 20.0 ? v : log1p(exp(v)); }
// 1 / (1 + e^-v) with the fast division (the IEEE division's slow-path branch was a visible
// share of the staging's instructions).
__device__ __forceinline__ float sigmoid_c(float v) { return sigmoid_fast(v); }
__device__ __forceinline__ double sigmoid_c(double v) { return 1.0 / (1.0 + exp(-v)); }

// c ? a : b with both computed: a select the compiler cannot turn back into a branch around the
// computation of a. On a uniform run-time flag (p.softplus, z present) it had branched around
// every staged element's softplus and sigmoid, which then ran one after another instead of
// interleaved (scan_fwd's SASS: a BSSY / BRA / BSYNC and a MUFU latency per element).
__device__ __forceinline__ float pick(bool c, float a, float b) {
  float r;
  asm("{\n\t.reg .pred q;\n\tsetp.ne.u32 q, %1, 0;\n\tselp.f32 %0, %2, %3, q;\n\t}"
      : "=f"(r)
      : "r"(unsigned(c)), "f"(a), "f"(b));
  return r;
}
__device__ __forceinline__ double pick(bool c, double a, double b) { return c ? a : b; }

// ---- discretizations (ops/discretization.h) in the kernels' maths ----------------------------

// The kernels' maths for the discretizations: e^x as above (one ex2 in float), expm1f / expm1
// for e^x - 1; zoh in float keeps a·log2(e) per (channel, state), so that Ā = 2^(dt·coef) is one
// multiply and one ex2. The backward's zoh step in float (scan_bwd, kZohF) works in those units.
struct CudaMath {
  template <class C>
  static constexpr bool kLog2Zoh = std::is_same_v<C, float>;
  static constexpr float kLog2e = cuda::kLog2e;
  template <class C>
  __device__ __forceinline__ static C exp(C x) {
    return exp_c(x);
  }
  __device__ __forceinline__ static float exp2(float x) { return ex2_ftz(x); }
  template <class C>
  __device__ __forceinline__ static C expm1(C x, C /*ex*/) {
    return expm1_c(x);
  }
};

// ---- kernel parameters ----------------------------------------------------------------------

template <class C>
struct Params {
  int64_t B, L, D, N, chunk, nc;
  ScanArg u, delta, A, Bm, Cm, Dskip, z, bias, gout;
  const int32_t* rst;  // (B, L) sequence starts, or null (then no reset flags are staged)
  bool softplus;
  int npp;  // states per pass (S * NT)
  int S;    // slices = warps per block
  int T;    // steps per tile (forward) or per sub-chunk (backward)
  int P;    // passes
  int M;       // backward: sub-chunks per chunk
  int M_last;  // backward: sub-chunks of the last chunk (L need not be a multiple of chunk)
  // Time segments (grid z = pass + P * segment): segment s covers steps [s seg_len, (s + 1)
  // seg_len), seg_len a multiple of chunk. Each starts from carry (forward: the state before its
  // first step; backward: dh after its last step), or from zero when carry is null.
  int nseg;
  int64_t seg_len;
  int seg0;                // scan_carry: the segment of grid z = 0
  C* carry;                // (B, nseg, N, D) or null
  C *seg_end, *seg_prod;   // scan_carry's outputs, (B, nseg, N, D)
  // forward outputs
  void* out;
  DType out_dt;
  C* ypart;   // (P, B, L, D) when P > 1
  C* states;  // (B, nc, N, D) or null
  C* fin;     // (B, D, N) or null
  // backward
  const C* states_in;
  void *du, *ddelta, *dz;  // P == 1: written directly (null: not wanted)
  DType du_dt, ddelta_dt, dz_dt;
  C *du_p, *dv_p, *dz_p;   // P > 1: (P, B, L, D) partials
  C* dA_part;              // (B, nseg, N, D)
  C* dD_part;              // (nseg, B, D)
  C* dbias_part;           // (nseg, P, B, D)
  C *dB_part, *dC_part;    // (G, B, L, N), G = gridDim.x
  C* sub;                  // sub-chunk start states, thread-private
};

// NT consecutive values from shared memory (16-byte loads where the type and alignment allow:
// every slice row starts at a multiple of NT elements).
template <int NT>
__device__ __forceinline__ void load_vec(const float* p, float (&v)[NT]) {
  if constexpr (NT % 4 == 0) {
#pragma unroll
    for (int q = 0; q < NT / 4; ++q) {
      float4 f = reinterpret_cast<const float4*>(p)[q];
      v[4 * q] = f.x;
      v[4 * q + 1] = f.y;
      v[4 * q + 2] = f.z;
      v[4 * q + 3] = f.w;
    }
  } else {
#pragma unroll
    for (int k = 0; k < NT; ++k) v[k] = p[k];
  }
}
template <int NT>
__device__ __forceinline__ void load_vec(const double* p, double (&v)[NT]) {
#pragma unroll
  for (int k = 0; k < NT; ++k) v[k] = p[k];
}

// One step of the recurrence for a thread's NT states: h = Ā h + B̄ x B, Ā per state returned in
// ab (the segment carry multiplies them up; other callers ignore it). The forward, the carry pass
// and the backward's forward sweep and recompute all advance their states through this.
template <int NT, class C, class Disc>
__device__ __forceinline__ void advance(const Disc& disc, C dtv, C xv, const C (&a)[NT],
                                        const C (&bv)[NT], C (&h)[NT], C (&ab)[NT]) {
#pragma unroll
  for (int k = 0; k < NT; ++k) {
    C bb;
    disc.fwd(dtv, a[k], ab[k], bb);
    h[k] = ab[k] * h[k] + (bb * xv) * bv[k];
  }
}

// ---- staging: a tile of inputs, loaded one tile ahead ----------------------------------------

// Raw bits of a loaded element, converted only when the tile is committed to shared memory, so
// the loads of the next tile stay in flight while this one is computed (converting right after
// the load would wait for it).
template <class C>
using Raw = std::conditional_t<sizeof(C) == 4, uint32_t, unsigned long long>;

template <class C>
__device__ __forceinline__ C from_raw(Raw<C> r, DType dt) {
  switch (dt) {
    case DType::f32: return C(__uint_as_float(uint32_t(r)));
    case DType::f64:
      if constexpr (sizeof(C) == 4)
        return __uint_as_float(uint32_t(r));
      else
        return __longlong_as_double((long long)r);
    case DType::bf16: return C(__uint_as_float(uint32_t(r) << 16));
    default: return C(__half2float(__ushort_as_half((unsigned short)r)));
  }
}

// The dtype of an activation (u, delta, z, B, C, the output gradient) or of a gradient or output
// the kernel writes: BF, a variant for all of them in bfloat16 (the autocast path), fixes it at
// compile time, so that no dtype switch is left (with 4 rows it was ~25 instructions per tensor
// and tile: predicates, selects, conversions for every case).
template <bool BF>
__device__ __forceinline__ DType act_dt(DType d) {
  return BF ? DType::bf16 : d;
}

// R elements a[i0 + r * stride] as raw bits (0 where !ok[r]), and their conversion: one dtype
// switch per tensor and tile rather than one per element.
template <class C, int R>
__device__ __forceinline__ void ld_rows(Raw<C> (&dst)[R], const ScanArg& a, DType dt, int64_t i0,
                                        int64_t stride, const bool (&ok)[R]) {
  // The row pointer advances by `stride` per row: q[r * stride] with a 64-bit stride cost a
  // 64-bit multiply-add per load (about 16 instructions per load in the forward's SASS).
  switch (dt) {
    case DType::f32: {
      const uint32_t* q = static_cast<const uint32_t*>(a.p) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride) dst[r] = ok[r] ? Raw<C>(*q) : Raw<C>(0);
      break;
    }
    case DType::f64: {
      const double* q = static_cast<const double*>(a.p) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride) {
        if constexpr (sizeof(C) == 4)  // rare mix: converted (and waited for) here
          dst[r] = ok[r] ? __float_as_uint(float(*q)) : 0u;
        else
          dst[r] = ok[r] ? (unsigned long long)__double_as_longlong(*q) : 0ull;
      }
      break;
    }
    default: {
      const unsigned short* q = static_cast<const unsigned short*>(a.p) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride) dst[r] = ok[r] ? Raw<C>(*q) : Raw<C>(0);
    }
  }
}

template <class C, int R>
__device__ __forceinline__ void cvt_rows(C (&dst)[R], const Raw<C> (&src)[R], DType dt) {
  switch (dt) {
    case DType::f32:
#pragma unroll
      for (int r = 0; r < R; ++r) dst[r] = C(__uint_as_float(uint32_t(src[r])));
      break;
    case DType::f64:
#pragma unroll
      for (int r = 0; r < R; ++r) dst[r] = from_raw<C>(src[r], DType::f64);
      break;
    case DType::bf16:
#pragma unroll
      for (int r = 0; r < R; ++r) dst[r] = C(__uint_as_float(uint32_t(src[r]) << 16));
      break;
    default:
#pragma unroll
      for (int r = 0; r < R; ++r) dst[r] = C(__half2float(__ushort_as_half((unsigned short)src[r])));
  }
}

// Stores v[r] at out[i0 + r * stride] where ok[r], converted to dt (the pointer advancing per row,
// as in ld_rows).
template <class C, int R>
__device__ __forceinline__ void st_rows(void* out, DType dt, int64_t i0, int64_t stride,
                                        const C (&v)[R], const bool (&ok)[R]) {
  switch (dt) {
    case DType::f32: {
      float* q = static_cast<float*>(out) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride)
        if (ok[r]) *q = float(v[r]);
      break;
    }
    case DType::f64: {
      double* q = static_cast<double*>(out) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride)
        if (ok[r]) *q = double(v[r]);
      break;
    }
    case DType::bf16: {
      __nv_bfloat16* q = static_cast<__nv_bfloat16*>(out) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride)
        if (ok[r]) *q = __float2bfloat16_rn(float(v[r]));
      break;
    }
    default: {
      __half* q = static_cast<__half*>(out) + i0;
#pragma unroll
      for (int r = 0; r < R; ++r, q += stride)
        if (ok[r]) *q = __float2half_rn(float(v[r]));
    }
  }
}

// Where a thread sits: batch row b, its lane's channel d, slice s of S, the pass's states, the
// time segment.
struct Geo {
  int64_t b, d0, d, n0;
  int ncnt, s, S, lane, tid, nthr, npp, pass, seg;
  int j0, tt0;  // the thread's B/C items: state j0 of rows tt0, tt0 + nthr / npp, ...
  bool dvalid;
};

// SC > 0: the block has SC slices of NT states, known at compile time, so that the block size,
// npp and the shared-memory strides that derive from them are constants (immediate offsets and
// shifts in place of multiplies and divisions by run-time values); SC = 0 reads them from the
// launch (npp from the caller).
template <int SC = 0, int NT = 1>
__device__ __forceinline__ Geo geo(int64_t N, int64_t D, int npp, int P) {
  Geo g;
  g.tid = threadIdx.x;
  g.lane = g.tid & 31;
  g.s = g.tid >> 5;
  if constexpr (SC > 0) {
    g.S = SC;
    g.nthr = 32 * SC;
    g.npp = SC * NT;
  } else {
    g.nthr = blockDim.x;
    g.S = g.nthr >> 5;
    g.npp = npp;
  }
  g.b = blockIdx.y;
  g.d0 = int64_t(blockIdx.x) * 32;
  g.d = g.d0 + g.lane;
  g.pass = int(blockIdx.z) % P;
  g.seg = int(blockIdx.z) / P;
  g.n0 = int64_t(g.pass) * g.npp;
  g.ncnt = int(imin(g.npp, N - g.n0));
  g.j0 = g.tid % g.npp;
  g.tt0 = g.tid / g.npp;
  g.dvalid = g.d < D;
  return g;
}

// One tile's inputs in flight. Thread (s, lane) loads rows s, s + S, ..., (RR of them) of its
// lane's channel, and items tid, tid + nthr, ... (KB of them) of the tile's [T][npp] block of B
// and C, i.e. state j0 of rows tt0 + q nthr / npp (npp divides nthr: NT divides 32); the host
// picks T <= RR * S and T * npp <= KB * nthr so that they cover the tile.
template <class C, int RR, int KB>
struct Flight {
  Raw<C> dl[RR], uu[RR], zz[RR], gg[RR];
  Raw<C> bm[KB], cm[KB];
};

// What a tile needs: delta, u, B always; z, C and gout by flag. With g, `full` also stages
// softplus' and the gradient of z's gate (the backward); the reverse carry pass needs gy alone.
struct Need {
  bool z, c, g;
  bool full = true;
};

// B and C of a tile: state j0 of rows tt0, tt0 + nthr / npp, ...
template <bool BF, class C, int RR, int KB>
__device__ __forceinline__ void issue_bc(Flight<C, RR, KB>& f, const Params<C>& p, const Geo& g,
                                         int64_t t1, int len, Need need) {
  const int step = g.nthr / g.npp;
  bool okb[KB];
#pragma unroll
  for (int q = 0; q < KB; ++q) okb[q] = g.j0 < g.ncnt && g.tt0 + q * step < len;
  const int64_t tb = t1 + g.tt0, n = g.n0 + g.j0;
  ld_rows<C, KB>(f.bm, p.Bm, act_dt<BF>(p.Bm.dtype),
                 g.b * p.Bm.s[0] + tb * p.Bm.s[1] + n * p.Bm.s[2], step * p.Bm.s[1], okb);
  if (need.c)
    ld_rows<C, KB>(f.cm, p.Cm, act_dt<BF>(p.Cm.dtype),
                   g.b * p.Cm.s[0] + tb * p.Cm.s[1] + n * p.Cm.s[2], step * p.Cm.s[1], okb);
}

// Vector staging (the BF variants): thread tid takes channels c4 .. c4 + 3, c4 = 4 (tid % 8), of
// rows tid / 8 + q nthr / 8, q < RR / 4: one 8-byte load of 4 bfloat16 per tensor and row, kept
// in Raw slots 2 q and 2 q + 1, where the lane-per-channel layout takes 4 two-byte loads, each
// with its own row offset and predicate. The host picks the forward's BF variant only where u,
// delta and z allow it (vec_layout: channel stride 1, row and batch strides multiples of 4,
// 8-byte aligned; D a multiple of 4, so that a group of 4 channels is wholly inside D or wholly
// past it).
struct VecGeo {
  int r0, rows, c4;
  int64_t d;  // the first of the 4 channels
  bool dv;
};

__device__ __forceinline__ VecGeo vec_geo(const Geo& g, int64_t D) {
  VecGeo v;
  v.r0 = g.tid >> 3;
  v.rows = g.nthr >> 3;
  v.c4 = (g.tid & 7) * 4;
  v.d = g.d0 + v.c4;
  v.dv = v.d < D;
  return v;
}

template <bool BF, class C, int RR, int KB>
__device__ __forceinline__ void issue(Flight<C, RR, KB>& f, const Params<C>& p, const Geo& g,
                                      int64_t t1, int len, Need need, std::true_type /*vec*/) {
  static_assert(BF, "vector staging reads bfloat16");
  static_assert(sizeof(Raw<C>) == 4 && RR % 4 == 0, "vector staging: float compute, 4-row slots");
  constexpr int VR = RR / 4;
  const VecGeo v = vec_geo(g, p.D);
  bool ok[VR];
#pragma unroll
  for (int q = 0; q < VR; ++q) ok[q] = v.dv && v.r0 + q * v.rows < len;
  auto rows = [&](Raw<C>(&dst)[RR], const ScanArg& a) {
    const unsigned short* r = static_cast<const unsigned short*>(a.p) + g.b * a.s[0] +
                              (t1 + v.r0) * a.s[1] + v.d;
    const int64_t step = int64_t(v.rows) * a.s[1];
#pragma unroll
    for (int q = 0; q < VR; ++q, r += step) {
      const uint2 w = ok[q] ? *reinterpret_cast<const uint2*>(r) : make_uint2(0u, 0u);
      dst[2 * q] = w.x;
      dst[2 * q + 1] = w.y;
    }
  };
  rows(f.dl, p.delta);
  rows(f.uu, p.u);
  if (need.z) rows(f.zz, p.z);
  if (need.g) rows(f.gg, p.gout);
  issue_bc<true>(f, p, g, t1, len, need);
}

template <bool BF, class C, int RR, int KB>
__device__ __forceinline__ void issue(Flight<C, RR, KB>& f, const Params<C>& p, const Geo& g,
                                      int64_t t1, int len, Need need, std::false_type /*vec*/) {
  // Element index of (b, t1 + s, d) in each input, then S steps further per row.
  const int64_t t = t1 + g.s;
  auto base = [&](const ScanArg& a) { return g.b * a.s[0] + t * a.s[1] + g.d * a.s[2]; };
  bool ok[RR];
#pragma unroll
  for (int r = 0; r < RR; ++r) ok[r] = g.dvalid && g.s + r * g.S < len;
  auto rows = [&](Raw<C>(&dst)[RR], const ScanArg& a) {
    ld_rows<C, RR>(dst, a, act_dt<BF>(a.dtype), base(a), g.S * a.s[1], ok);
  };
  rows(f.dl, p.delta);
  rows(f.uu, p.u);
  if (need.z) rows(f.zz, p.z);
  if (need.g) rows(f.gg, p.gout);
  issue_bc<BF>(f, p, g, t1, len, need);
}

// The loads of a tile: BF, every activation bfloat16 (act_dt); VEC, staged 4 channels at a time
// (BF only). The forward's BF variants stage as vectors; the backward's do not (measured on the
// H200: its fwd+bwd went 1.580 -> 1.596 ms at (8,1536,2048,16) with vectors, where the forward
// alone went 0.331 -> 0.323 and 0.808 -> 0.718 at N = 64).
template <bool BF = false, bool VEC = false, class C, int RR, int KB>
__device__ __forceinline__ void issue(Flight<C, RR, KB>& f, const Params<C>& p, const Geo& g,
                                      int64_t t1, int len, Need need) {
  issue<BF>(f, p, g, t1, len, need, std::bool_constant<VEC>{});
}

// Shared-memory tile: rows of 32 channels ([T][32]) and rows of the pass's states ([T][npp]).
template <class C>
struct TileSmem {
  C *dt, *x, *z;         // dt after bias and softplus; x = u; z (forward)
  C *sp, *gy, *gs;       // backward: softplus'(v), d y_pre (g silu(z)), dz / y_pre
  C *Bs, *Cs;
};

// One staged element from v = delta + bias, u, z and the output gradient g. Channels past D get
// dt = 0 (their u, z and g load as 0): their recurrences and gradients stay at zero.
template <class C>
struct Staged {
  C dt, x, sp, gy, gs, z;
};

template <class C>
__device__ __forceinline__ Staged<C> stage(const Params<C>& p, bool valid, C v, C u, C zz, C go,
                                           Need need) {
  Staged<C> e{};
  e.dt = valid ? pick(p.softplus, softplus_c(v), v) : C(0);
  e.x = u;
  if (need.g) {
    if (need.full) e.sp = pick(p.softplus, sigmoid_c(v), C(1));
    // Without z, zz is 0 here: the gate's terms are computed and not taken.
    const C sg = sigmoid_c(zz);
    e.gy = pick(need.z, go * zz * sg, go);  // out = y silu(z): d y = g silu(z)
    if (need.full) e.gs = pick(need.z, go * sg * (C(1) + zz * (C(1) - sg)), C(0));
  } else if (need.z) {
    e.z = zz;
  }
  return e;
}

// B and C of the tile in flight to shared memory (states past the pass load as 0).
template <bool BF, class C, int RR, int KB>
__device__ __forceinline__ void commit_bc(const Flight<C, RR, KB>& f, const Params<C>& p,
                                          const Geo& g, int len, const TileSmem<C>& t, Need need) {
  C bm[KB], cm[KB];
  cvt_rows<C, KB>(bm, f.bm, act_dt<BF>(p.Bm.dtype));
  if (need.c) cvt_rows<C, KB>(cm, f.cm, act_dt<BF>(p.Cm.dtype));
  const int total = len * g.npp;
#pragma unroll
  for (int q = 0; q < KB; ++q) {
    const int i = g.tid + q * g.nthr;
    if (i >= total) continue;
    t.Bs[i] = bm[q];
    if (need.c) t.Cs[i] = cm[q];
  }
}

// Converts the tile in flight and writes it to shared memory: vector staging (see issue), each
// thread's 4 channels of a row as one 16-byte store per array.
template <bool BF, class C, int RR, int KB>
__device__ __forceinline__ void commit(const Flight<C, RR, KB>& f, const Params<C>& p,
                                       const Geo& g, int len, C /*bias*/, const TileSmem<C>& t,
                                       Need need, std::true_type /*vec*/) {
  static_assert(BF, "vector staging reads bfloat16");
  constexpr int VR = RR / 4;
  const VecGeo v = vec_geo(g, p.D);
  C bias[4];
#pragma unroll
  for (int e = 0; e < 4; ++e) bias[e] = v.dv && p.bias.p ? ld1<C>(p.bias, v.d + e) : C(0);
  // bfloat16 pair -> floats: the first channel is the low half.
  auto lo = [](uint32_t w) { return __uint_as_float(w << 16); };
  auto hi = [](uint32_t w) { return __uint_as_float(w & 0xffff0000u); };
  auto four = [&](const Raw<C>(&r)[RR], int q, C (&out)[4]) {
    out[0] = lo(r[2 * q]);
    out[1] = hi(r[2 * q]);
    out[2] = lo(r[2 * q + 1]);
    out[3] = hi(r[2 * q + 1]);
  };
  auto put = [](C* a, int i, C x0, C x1, C x2, C x3) {
    *reinterpret_cast<float4*>(a + i) = make_float4(x0, x1, x2, x3);
  };
  // Rows past len (loaded as zeros) are converted too and only their stores skipped: a branch
  // around the whole row kept the compiler from interleaving the rows' arithmetic.
#pragma unroll
  for (int q = 0; q < VR; ++q) {
    const int tt = v.r0 + q * v.rows;
    C dl[4], uu[4], zz[4] = {}, go[4] = {};
    four(f.dl, q, dl);
    four(f.uu, q, uu);
    if (need.z) four(f.zz, q, zz);
    if (need.g) four(f.gg, q, go);
    Staged<C> e[4];
#pragma unroll
    for (int k = 0; k < 4; ++k) e[k] = stage(p, v.dv, dl[k] + bias[k], uu[k], zz[k], go[k], need);
    if (tt >= len) continue;
    const int i = tt * 32 + v.c4;
    put(t.dt, i, e[0].dt, e[1].dt, e[2].dt, e[3].dt);
    put(t.x, i, e[0].x, e[1].x, e[2].x, e[3].x);
    if (need.g) {
      if (need.full) put(t.sp, i, e[0].sp, e[1].sp, e[2].sp, e[3].sp);
      put(t.gy, i, e[0].gy, e[1].gy, e[2].gy, e[3].gy);
      if (need.full) put(t.gs, i, e[0].gs, e[1].gs, e[2].gs, e[3].gs);
    } else if (need.z) {
      put(t.z, i, e[0].z, e[1].z, e[2].z, e[3].z);
    }
  }
  commit_bc<true>(f, p, g, len, t, need);
}

// The same, lane per channel.
template <bool BF, class C, int RR, int KB>
__device__ __forceinline__ void commit(const Flight<C, RR, KB>& f, const Params<C>& p,
                                       const Geo& g, int len, C bias, const TileSmem<C>& t,
                                       Need need, std::false_type /*vec*/) {
  C dl[RR], uu[RR], zz[RR] = {}, go[RR] = {};
  cvt_rows<C, RR>(dl, f.dl, act_dt<BF>(p.delta.dtype));
  cvt_rows<C, RR>(uu, f.uu, act_dt<BF>(p.u.dtype));
  if (need.z) cvt_rows<C, RR>(zz, f.zz, act_dt<BF>(p.z.dtype));
  if (need.g) cvt_rows<C, RR>(go, f.gg, act_dt<BF>(p.gout.dtype));
#pragma unroll
  for (int r = 0; r < RR; ++r) {
    const int tt = g.s + r * g.S;
    if (tt >= len) continue;
    const int i = tt * 32 + g.lane;
    const Staged<C> e = stage(p, g.dvalid, dl[r] + bias, uu[r], zz[r], go[r], need);
    t.dt[i] = e.dt;
    t.x[i] = e.x;
    if (need.g) {
      if (need.full) t.sp[i] = e.sp;
      t.gy[i] = e.gy;
      if (need.full) t.gs[i] = e.gs;
    } else if (need.z) {
      t.z[i] = e.z;
    }
  }
  commit_bc<BF>(f, p, g, len, t, need);
}

template <bool BF = false, bool VEC = false, class C, int RR, int KB>
__device__ __forceinline__ void commit(const Flight<C, RR, KB>& f, const Params<C>& p,
                                       const Geo& g, int len, C bias, const TileSmem<C>& t,
                                       Need need) {
  commit<BF>(f, p, g, len, bias, t, need, std::bool_constant<VEC>{});
}

// The gradient-path tile at the start of shared memory: dt, x, sp, gy, gs ([T][32] each), then B
// and C ([T][npp] each). Returns the first element after it.
template <class C>
__device__ __forceinline__ C* grad_tile(unsigned char* raw, int T, int npp, TileSmem<C>& ts) {
  ts.dt = reinterpret_cast<C*>(raw);
  ts.x = ts.dt + T * 32;
  ts.sp = ts.x + T * 32;
  ts.gy = ts.sp + T * 32;
  ts.gs = ts.gy + T * 32;
  ts.Bs = ts.gs + T * 32;
  ts.Cs = ts.Bs + T * npp;
  return ts.Cs + T * npp;
}

// Stages the reset flags of steps [t1, t1 + len) as 0 / 1 in rs (len <= the block's threads).
template <class C>
__device__ __forceinline__ void stage_resets(const Params<C>& p, const Geo& g, int64_t t1, int len,
                                             C* rs) {
  if (g.tid < len) rs[g.tid] = p.rst[g.b * p.L + t1 + g.tid] != 0 ? C(1) : C(0);
}

// ---- tiles and epilogues ----------------------------------------------------------------------

constexpr int kFwdRows = 8, kFwdItems = 8;  // per thread, per tile (Flight's RR and KB)

// Steps per forward tile: at most 64, covered by the threads' prefetch registers (rows s + r S,
// r < kFwdRows; B / C items tid + q nthr, q < kFwdItems). The host shrinks it to fit kSmemTarget
// where needed; the variants with the slices fixed at compile time take it as a constant (at their
// S and NT it fits), so that every shared-memory address of the epilogue is an immediate offset
// (with T read from the launch parameters, the slice sums spent ~290 instructions per tile and
// warp on addresses and predicates: Nsight Compute source view, (8,1536,2048,16) on an H200).
__host__ __device__ constexpr int fwd_tile_steps(int S, int NT) {
  const int t = kFwdRows * S < 32 * kFwdItems / NT ? kFwdRows * S : 32 * kFwdItems / NT;
  return t < 64 ? t : 64;
}

// The epilogue rows of a tile (forward) or sub-chunk (backward): thread (s, lane) finishes rows
// s + r S, r < R. ok[r]: the row is to be stored (inside len, a valid channel). live[r]: the row is
// computed. With the slices fixed at compile time (SC > 0) and the length T a constant multiple of
// them, the rows inside T are r < T / SC for every s, known at compile time, and are computed
// unpredicated (rows past len, in the last tile, hold stale values that are neither stored nor
// summed); the generic variant (SC = 0) computes only the rows it stores.
template <int SC, int KT, int R>
__device__ __forceinline__ void epilogue_rows(int s, int S, int len, bool dvalid, bool (&ok)[R],
                                              bool (&live)[R]) {
  constexpr int kLive = SC > 0 ? KT / (SC > 0 ? SC : 1) : 0;
  static_assert(SC == 0 || kLive * SC == KT, "the epilogue's rows: T a multiple of S");
#pragma unroll
  for (int r = 0; r < R; ++r) {
    ok[r] = (SC == 0 || r < kLive) && s + r * S < len && dvalid;
    live[r] = SC > 0 ? r < kLive : ok[r];
  }
}

// The state index of (b, segment, state n, channel d) in a (B, nseg, N, D) segment array.
template <class C>
__device__ __forceinline__ int64_t seg_at(const Params<C>& p, int64_t b, int seg, int64_t n,
                                          int64_t d) {
  return ((b * p.nseg + seg) * p.N + n) * p.D + d;
}

// ---- time segments: their carries ------------------------------------------------------------
//
// With segments, every segment but the first (forward) or the last (backward) needs the carry
// from the ones before (after) it. The recurrence is linear in the carry: over a segment,
//   forward   h_end  = Π Ā · h_in + (h_end from zero),      h_t = Ā_t h_{t-1} + B̄_t x_t B_t
//   backward  dh_in  = Π Ā · dh_end + (dh_in from zero),    dh_{t-1} = Ā_t (dh_t + gy_t C_t)
// (Ā = 0 at a reset). scan_carry runs each segment from zero, keeping the end value and Π Ā;
// scan_chain then walks the segments in order (a few steps per state); the main kernels start
// each segment from its carry. The price: one more recurrence (exp) per state and step,
// bought back by nseg times more blocks in flight when B x D alone leaves the GPU idle.
// BF: every activation (and the output gradient) bfloat16, staged 4 channels at a time as in the
// forward's BF variants. For zoh without resets Π Ā = e^{a Σ dt}: the pass sums dt per channel
// and takes one exp per state at the end instead of a multiply per state and step. Blocks of at
// most 4 warps; the forward pass at 4 per multiprocessor (128 registers), the reverse at 3 (170:
// capped at 128 it spilled, uncapped it took ~200, 2 blocks per multiprocessor).
template <class C, int NT, class Disc, bool RST, bool REV, bool BF>
__global__ void __launch_bounds__(32 * kMaxSlicesCarry, REV ? 3 : 4)
    scan_carry(const Params<C> p, const Disc disc) {
  constexpr bool kSumDt = !RST && std::is_same_v<Disc, Zoh<float, CudaMath>>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int T = p.T, npp = p.npp;
  TileSmem<C> ts{};
  C* rs_s = grad_tile(smem_raw, T, npp, ts);  // then [T] reset flags (with p.rst only)
  const bool has_rst = RST && p.rst != nullptr;

  const Geo g = geo(p.N, p.D, npp, p.P);
  const int s = g.s, lane = g.lane, seg = g.seg + p.seg0;
  const int64_t b = g.b, d = g.d, n0 = g.n0;
  const int64_t tb = int64_t(seg) * p.seg_len, te = imin(p.L, tb + p.seg_len);
  const int ntiles = int((te - tb + T - 1) / T);

  C a[NT], h[NT], prod[NT];
#pragma unroll
  for (int k = 0; k < NT; ++k) {
    const int j = s * NT + k;
    a[k] = g.dvalid && j < g.ncnt
               ? disc.coef(ld_any<C>(p.A.p, d * p.A.s[0] + (n0 + j) * p.A.s[1], p.A.dtype))
               : C(0);
    h[k] = C(0);
    prod[k] = C(1);
  }
  C sdt = 0;  // Σ dt over the segment (kSumDt)
  const C bias = g.dvalid && p.bias.p ? ld1<C>(p.bias, d) : C(0);
  // Forward: dt, x, B. Reverse: dt and gy = g silu(z) (the staging's gradient path), C.
  const Need need = REV ? Need{p.z.p != nullptr, true, true, false} : Need{false, false, false};
  auto tile = [&](int i, int64_t& t1, int& len) {
    if (REV) {
      const int64_t hi = te - int64_t(i) * T;
      t1 = hi - T > tb ? hi - T : tb;
      len = int(hi - t1);
    } else {
      t1 = tb + int64_t(i) * T;
      len = int(imin(T, te - t1));
    }
  };

  Flight<C, kFwdRows, kFwdItems> f;
  {
    int64_t t1;
    int len;
    tile(0, t1, len);
    issue<BF, BF>(f, p, g, t1, len, need);
  }
  for (int i = 0; i < ntiles; ++i) {
    int64_t t1;
    int len;
    tile(i, t1, len);
    commit<BF, BF>(f, p, g, len, bias, ts, need);
    if (has_rst) stage_resets(p, g, t1, len, rs_s);
    if (i + 1 < ntiles) {
      int64_t n1;
      int nlen;
      tile(i + 1, n1, nlen);
      issue<BF, BF>(f, p, g, n1, nlen, need);
    }
    __syncthreads();
    if (!REV) {
#pragma unroll 4
      for (int tt = 0; tt < len; ++tt) {
        const C dtv = ts.dt[tt * 32 + lane], xv = ts.x[tt * 32 + lane];
        C bv[NT];
        load_vec<NT>(ts.Bs + tt * npp + s * NT, bv);
        if (has_rst && rs_s[tt] != C(0)) {
#pragma unroll
          for (int k = 0; k < NT; ++k) h[k] = prod[k] = C(0);
        }
        C ab[NT];
        advance<NT>(disc, dtv, xv, a, bv, h, ab);
        if constexpr (kSumDt) {
          sdt += dtv;
        } else {
#pragma unroll
          for (int k = 0; k < NT; ++k) prod[k] *= ab[k];
        }
      }
    } else {
#pragma unroll 4
      for (int tt = len - 1; tt >= 0; --tt) {
        const C dtv = ts.dt[tt * 32 + lane], gyv = ts.gy[tt * 32 + lane];
        C cv[NT];
        load_vec<NT>(ts.Cs + tt * npp + s * NT, cv);
        const bool rs = has_rst && rs_s[tt] != C(0);
        if constexpr (kSumDt) sdt += dtv;
#pragma unroll
        for (int k = 0; k < NT; ++k) {
          C ab, bb;
          disc.fwd(dtv, a[k], ab, bb);
          h[k] = rs ? C(0) : ab * (h[k] + gyv * cv[k]);
          if constexpr (!kSumDt) prod[k] = rs ? C(0) : prod[k] * ab;
        }
      }
    }
    __syncthreads();  // the next tile overwrites what this one read
  }
  if (g.dvalid) {
#pragma unroll
    for (int k = 0; k < NT; ++k) {
      if (s * NT + k >= g.ncnt) continue;
      const int64_t i = seg_at(p, b, seg, n0 + s * NT + k, d);
      p.seg_end[i] = h[k];
      if constexpr (kSumDt)
        p.seg_prod[i] = disc.abar(sdt, a[k]);
      else
        p.seg_prod[i] = prod[k];
    }
  }
}

// carry[s] for every (b, n, d): forward, the state before segment s (zero for the first);
// reverse, dh after segment s's last step (zero for the last).
template <class C>
__global__ void scan_chain(const Params<C> p, bool rev) {
  const int64_t total = p.B * p.N * p.D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t d = i % p.D, n = (i / p.D) % p.N, b = i / (p.N * p.D);
    C c = 0;
    for (int q = 0; q < p.nseg; ++q) {
      const int sg = rev ? p.nseg - 1 - q : q;
      const int64_t at = seg_at(p, b, sg, n, d);
      p.carry[at] = c;
      if (q + 1 < p.nseg) c = p.seg_prod[at] * c + p.seg_end[at];
    }
  }
}

// ---- host side: variants and launches shared by the forward and backward -----------------------

// The plain planning functions (selective_scan_plan.h).
using namespace scan_plan;

// Scratch from the caching allocator, returned when the launcher is done (kernels queued on the
// default stream before a later reuse finish first).
struct Scratch {
  int device;
  std::vector<void*> blocks;
  explicit Scratch(int dev) : device(dev) {}
  ~Scratch() {
    for (void* q : blocks) dealloc(q, device);
  }
  template <class C>
  C* get(int64_t n) {
    void* q = alloc(size_t(std::max<int64_t>(n, 1)) * sizeof(C), device);
    blocks.push_back(q);
    return static_cast<C*>(q);
  }
};

template <class C>
Params<C> base_params(const ScanProblem& pr) {
  Params<C> k{};
  k.B = pr.B;
  k.L = pr.L;
  k.D = pr.D;
  k.N = pr.N;
  k.chunk = pr.chunk;
  k.nc = scan_chunks(pr);
  k.u = pr.u;
  k.delta = pr.delta;
  k.A = pr.A;
  k.Bm = pr.Bm;
  k.Cm = pr.Cm;
  k.Dskip = pr.Dskip;
  k.z = pr.z;
  k.bias = pr.bias;
  k.rst = pr.seq_start;
  k.softplus = pr.softplus;
  return k;
}

template <class C, class F>
void with_disc(const ScanProblem& pr, F&& f) {
  switch (pr.discretization) {
    case 0: f(Zoh<C, CudaMath>{}); break;
    case 1: f(ZohExact<C, CudaMath>{}); break;
    default: f(Gbt<C, CudaMath>{C(pr.alpha), C(1 - pr.alpha)}); break;
  }
}

// Blocks of `kernel` one multiprocessor holds at once (registers, shared memory, threads).
template <class K>
int resident_blocks(K kernel, int threads, size_t smem) {
  int n = 0;
  SSM_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, smem) == cudaSuccess,
            "selective_scan (CUDA): cannot read the kernel's occupancy");
  return std::max(n, 1);
}

template <class K>
void set_smem(K kernel, size_t bytes, int device) {
  SSM_CHECK(bytes <= max_shared_per_block(device), "selective_scan (CUDA): needs ", bytes,
            " bytes of shared memory per block, the device allows ", max_shared_per_block(device));
  if (bytes > (48 << 10))
    SSM_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   int(bytes)) == cudaSuccess,
              "selective_scan (CUDA): cudaFuncSetAttribute failed");
}

// Kernel variants. Only the path training and inference take — float32 arithmetic, zoh, no reset
// flags — is compiled for every register tiling and without the reset tests; float64 (tests),
// the other discretizations and packed batches take one generic variant (4 states per thread,
// reset flags tested at run time). That keeps the kernel files' compile time in check.
template <class C, class Disc>
constexpr bool kTuned = std::is_same_v<C, float> && std::is_same_v<Disc, Zoh<float, CudaMath>>;

// Calls f(integral_constant NT, bool_constant RST, integral_constant SC, bool_constant BF) for
// the variant that serves (NT, S, pr); the backward (kFwd false) has no 16. The op's default
// picks (4 slices: NT 4 for N = 16 both ways, NT 16 for N = 64 forward) also have variants with
// the slices fixed at compile time (SC = 4; 4-9% fewer instructions, measured on an H200,
// docs/scan_kernel.md), in general dtypes and with every activation in bfloat16 (BF, when
// `bf16` says so).
template <class C, class Disc, bool kFwd, class F>
void with_variant(const ScanProblem& pr, int NT, int S, bool bf16, F&& f) {
  using I2 = std::integral_constant<int, 2>;
  using I4 = std::integral_constant<int, 4>;
  using I8 = std::integral_constant<int, 8>;
  using I16 = std::integral_constant<int, 16>;
  using S0 = std::integral_constant<int, 0>;
  using S4 = std::integral_constant<int, 4>;
  using No = std::false_type;
  using Yes = std::true_type;
  auto fixed = [&](auto nt) { return bf16 ? f(nt, No{}, S4{}, Yes{}) : f(nt, No{}, S4{}, No{}); };
  if constexpr (kTuned<C, Disc>) {
    if (!pr.seq_start) {
      if (NT == 2) return f(I2{}, No{}, S0{}, No{});
      if (NT == 8) return f(I8{}, No{}, S0{}, No{});
      if constexpr (kFwd) {
        if (NT == 16) return S == 4 ? fixed(I16{}) : f(I16{}, No{}, S0{}, No{});
      }
      return S == 4 ? fixed(I4{}) : f(I4{}, No{}, S0{}, No{});
    }
  }
  f(I4{}, Yes{}, S0{}, No{});
}

// Segment carries for the forward (REV false) or the backward: scan_carry over every segment but
// the one whose carry is zero, then scan_chain into k.carry. `k` has the main kernel's fields.
// (REV a template argument: each kernel file instantiates its own direction's carry kernels.)
template <bool REV, class C, class Disc>
void run_carries(const ScanProblem& pr, Params<C>& k, const Disc& disc, Scratch& scratch) {
  const int64_t B = pr.B, N = pr.N, D = pr.D;
  const size_t seg_elems = size_t(B * k.nseg * N * D);
  k.carry = scratch.get<C>(int64_t(seg_elems));
  k.seg_end = scratch.get<C>(int64_t(seg_elems));
  k.seg_prod = scratch.get<C>(int64_t(seg_elems));
  // Its own tiling: 4 states per thread, at most kMaxSlicesCarry slices (its launch bounds).
  Params<C> c = k;
  int P, npp, S;
  plan_passes(N, 4, kMaxSlicesCarry, P, npp, S);
  c.P = P;
  c.npp = npp;
  c.S = S;
  c.seg0 = REV ? 1 : 0;
  const size_t rs_t = pr.seq_start ? 1 : 0;
  auto smem = [&](int t) { return (size_t(5 * t * 32 + 2 * t * npp) + rs_t * t) * sizeof(C); };
  int T = std::min({64, kFwdRows * S, 32 * kFwdItems / 4});
  while (T > 1 && smem(T) > kSmemTarget) --T;
  c.T = T;
  dim3 grid{unsigned(ceil_div(D, 32)), unsigned(B), unsigned(P * (k.nseg - 1))};
  auto go = [&](auto rst, auto bfc) {
    constexpr bool R = decltype(rst)::value, BF = decltype(bfc)::value;
    set_smem(scan_carry<C, 4, Disc, R, REV, BF>, smem(T), pr.device);
    scan_carry<C, 4, Disc, R, REV, BF><<<grid, 32 * S, smem(T), stream()>>>(c, disc);
  };
  // The bfloat16 variant stages u, delta, z (and, reverse, the output gradient) as vectors.
  const bool bf = bf16_inputs(pr) && vec_layout(pr) &&
                  (!REV || (k.gout.dtype == DType::bf16 && vec_ok(k.gout)));
  if constexpr (kTuned<C, Disc>) {
    if (pr.seq_start) go(std::true_type{}, std::false_type{});
    else if (bf) go(std::false_type{}, std::true_type{});
    else go(std::false_type{}, std::false_type{});
  } else {
    go(std::true_type{}, std::false_type{});
  }
  check_launch("selective_scan (segment carries)");
  scan_chain<C><<<unsigned(std::min<int64_t>(ceil_div(B * N * D, 256), 65535)), 256, 0, stream()>>>(
      c, REV);
  check_launch("selective_scan (segment chain)");
}

}  // namespace
}  // namespace ssm::cuda
