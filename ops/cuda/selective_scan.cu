// CUDA selective scan: forward, exact reverse-scan backward and the recurrent step.
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
// Backward per chunk of `chunk` steps, latest first, as the CPU backward_block: the state at the
// chunk start comes from the forward; a forward sweep through the chunk stores the state at the
// start of every sub-chunk of T steps (thread-private scratch in global memory); then sub-chunks
// are taken latest first: their T states are recomputed into shared memory and walked backwards
// carrying dh in registers. dB and dC (sums over channels) are reduced over the warp's 32 lanes
// with a shuffle reduce-scatter, then written per 32-channel group and summed over groups by
// sum_parts; dA, dD and ddelta_bias are written per (segment, batch row) and summed the same way.
//
// When batch x channels leave the GPU short of warps, time is split into segments of whole
// chunks scanned by separate blocks (grid z), chained through per-segment carries (scan_carry,
// scan_chain below): forward and backward alike.
//
// Timings, the profile and what to try next: bench/gpu/scan_notes.md.
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
#include "ops/cuda/typed_access.cuh"

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

// ---- discretizations: the CPU op's Zoh, ZohExact and Gbt ------------------------------------

// Each keeps, per (channel, state), a coefficient coef(a) in place of a: fwd takes it. For Zoh in
// float it is a·log2(e), so that Ā = 2^(dt·coef) is one multiply and one ex2; the backward's
// Zoh step (scan_bwd, kZohF) works in those units. grad takes a itself (every other case).
template <class C>
struct Zoh {  // Ā = e^{dt a}, B̄ = dt
  static constexpr bool kScaled = std::is_same_v<C, float>;
  __device__ __forceinline__ C coef(C a) const {
    if constexpr (kScaled)
      return a * kLog2e;
    else
      return a;
  }
  __device__ __forceinline__ C abar(C dt, C ac) const {
    if constexpr (kScaled)
      return ex2_ftz(dt * ac);
    else
      return exp_c(dt * ac);
  }
  __device__ __forceinline__ void fwd(C dt, C ac, C& ab, C& bb) const {
    ab = abar(dt, ac);
    bb = dt;
  }
  __device__ __forceinline__ void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt,
                                       C& dbb_da) const {
    static_assert(!kScaled, "Zoh<float> takes the backward's own step (kZohF)");
    ab = exp_c(dt * a);
    bb = dt;
    dab_ddt = a * ab;
    dab_da = dt * ab;
    dbb_ddt = C(1);
    dbb_da = C(0);
  }
};

template <class C>
struct ZohExact {  // Ā = e^x, B̄ = (e^x - 1) / a, x = dt a
  __device__ __forceinline__ C coef(C a) const { return a; }
  __device__ __forceinline__ void fwd(C dt, C a, C& ab, C& bb) const {
    C x = dt * a;
    ab = exp_c(x);
    bb = x == C(0) ? dt : expm1_c(x) / a;
  }
  __device__ __forceinline__ void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt,
                                       C& dbb_da) const {
    C x = dt * a;
    ab = exp_c(x);
    C em1 = expm1_c(x);
    bb = x == C(0) ? dt : em1 / a;
    dab_ddt = a * ab;
    dab_da = dt * ab;
    dbb_ddt = ab;
    C series = C(0.5) + x * (C(1) / 3 + x * (C(1) / 8 + x * (C(1) / 30 + x * (C(1) / 144))));
    C dphi = fabs(x) < C(0.01) ? series : (x * ab - em1) / (x * x);
    dbb_da = dt * dt * dphi;
  }
};

template <class C>
struct Gbt {  // den = 1 - β x: Ā = (1 + α x) / den, B̄ = dt / den
  C alpha, beta;
  __device__ __forceinline__ C coef(C a) const { return a; }
  __device__ __forceinline__ void fwd(C dt, C a, C& ab, C& bb) const {
    C x = dt * a, inv = C(1) / (C(1) - beta * x);
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
  }
  __device__ __forceinline__ void grad(C dt, C a, C& ab, C& bb, C& dab_ddt, C& dab_da, C& dbb_ddt,
                                       C& dbb_da) const {
    C x = dt * a, inv = C(1) / (C(1) - beta * x), inv2 = inv * inv;
    ab = (C(1) + alpha * x) * inv;
    bb = dt * inv;
    dab_ddt = a * inv2;
    dab_da = dt * inv2;
    dbb_ddt = inv2;
    dbb_da = beta * dt * dt * inv2;
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

// ---- forward --------------------------------------------------------------------------------

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

// RST: whether the kernel may see reset flags (p.rst). The plain path (false) compiles without
// their per-step tests, which cost it 3-18% when they were run-time checks. SC: the slices per
// block when fixed at compile time (see geo), else 0. BF: activations and output in bfloat16
// (see act_dt).
template <class C, int NT, class Disc, bool RST, int SC, bool BF>
__global__ void __launch_bounds__(32 * kMaxSlices) scan_fwd(const Params<C> p, const Disc disc) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  constexpr int kT = SC > 0 ? fwd_tile_steps(SC, NT) : 0;
  const int T = SC > 0 ? kT : p.T, npp = SC > 0 ? SC * NT : p.npp, S = SC > 0 ? SC : p.S;
  TileSmem<C> ts{};
  ts.dt = reinterpret_cast<C*>(smem_raw);  // [T][32]
  ts.x = ts.dt + T * 32;                   // [T][32]
  ts.z = ts.x + T * 32;                    // [T][32]
  ts.Bs = ts.z + T * 32;                   // [T][npp]
  ts.Cs = ts.Bs + T * npp;                 // [T][npp]
  C* y_s = ts.Cs + T * npp;                // [S][T][32]
  C* rs_s = y_s + S * T * 32;              // [T] reset flags (with p.rst only)
  const bool has_rst = RST && p.rst != nullptr;

  const Geo g = geo<SC, NT>(p.N, p.D, npp, p.P);
  const int s = g.s, lane = g.lane;
  const int64_t b = g.b, d = g.d, n0 = g.n0;
  const int ncnt = g.ncnt;
  const int64_t tb = int64_t(g.seg) * p.seg_len, te = imin(p.L, tb + p.seg_len);

  C a[NT], h[NT];
#pragma unroll
  for (int k = 0; k < NT; ++k) {
    const int j = s * NT + k;
    const bool ok = g.dvalid && j < ncnt;
    a[k] = ok ? disc.coef(ld_any<C>(p.A.p, d * p.A.s[0] + (n0 + j) * p.A.s[1], p.A.dtype)) : C(0);
    h[k] = ok && p.carry ? p.carry[seg_at(p, b, g.seg, n0 + j, d)] : C(0);
  }
  const C bias = g.dvalid && p.bias.p ? ld1<C>(p.bias, d) : C(0);
  const C dsk = g.dvalid && p.Dskip.p ? ld1<C>(p.Dskip, d) : C(0);
  const Need need{p.z.p != nullptr, true, false};

  Flight<C, kFwdRows, kFwdItems> f;
  issue<BF, BF>(f, p, g, tb, int(imin(T, te - tb)), need);
  int64_t next_ck = tb;  // segments start on chunk boundaries
  for (int64_t t0 = tb; t0 < te; t0 += T) {
    const int tl = int(imin(T, te - t0));
    commit<BF, BF>(f, p, g, tl, bias, ts, need);
    if (has_rst) stage_resets(p, g, t0, tl, rs_s);
    if (t0 + T < te) issue<BF, BF>(f, p, g, t0 + T, int(imin(T, te - t0 - T)), need);
    __syncthreads();
    // The tile's next chunk start as a step of the tile.
    int ck = int(imin(next_ck - t0, int64_t(T)));
    // Step tt's slice sum is stored after step tt + 1's loads (the tile and y_s are one shared
    // array to the compiler, which keeps loads behind earlier stores); at tt = 0 the store goes
    // to row 0, which step 0's own store then overwrites. y_w: the row of acc_prev.
    C* const y_c = y_s + s * T * 32 + lane;
    C* y_w = y_c;
    C acc_prev = 0;
    // The steps run in stretches between chunk starts, so that the step loop has no branch in
    // it (a test per step split the unrolled steps into separate blocks, which the compiler
    // did not interleave).
    for (int tt = 0; tt < tl;) {
      if (tt == ck) {  // the state before step c * chunk, kept for backward
        if (p.states && g.dvalid) {
          C* st_row = p.states + ((b * p.nc + next_ck / p.chunk) * p.N + n0 + s * NT) * p.D + d;
#pragma unroll
          for (int k = 0; k < NT; ++k)
            if (s * NT + k < ncnt) st_row[int64_t(k) * p.D] = h[k];
        }
        next_ck += p.chunk;
        ck = int(imin(next_ck - t0, int64_t(T)));
      }
      const int stop = ck < tl ? ck : tl;
      // Unrolled so that the loads and exps of later steps overlap the recurrence of this one.
#pragma unroll 4
      for (; tt < stop; ++tt) {
        const C dtv = ts.dt[tt * 32 + lane], xv = ts.x[tt * 32 + lane];
        C bv[NT], cv[NT];
        load_vec<NT>(ts.Bs + tt * npp + s * NT, bv);
        load_vec<NT>(ts.Cs + tt * npp + s * NT, cv);
        *y_w = acc_prev;
        C acc = 0;
        if (has_rst && rs_s[tt] != C(0)) {  // a new sequence: Ā taken as 0
#pragma unroll
          for (int k = 0; k < NT; ++k) h[k] = C(0);
        }
        C ab[NT];
        advance<NT>(disc, dtv, xv, a, bv, h, ab);
#pragma unroll
        for (int k = 0; k < NT; ++k) acc += cv[k] * h[k];
        acc_prev = acc;
        y_w = y_c + tt * 32;
      }
    }
    *y_w = acc_prev;
    __syncthreads();
    // The rows this thread staged (epilogue_rows): sum the slices in order, add the skip, gate,
    // store.
    {
      C y[kFwdRows];
      bool ok[kFwdRows], live[kFwdRows];
      epilogue_rows<SC, kT>(s, S, tl, g.dvalid, ok, live);
#pragma unroll
      for (int r = 0; r < kFwdRows; ++r) y[r] = 0;
      // Slices outer, rows inner: one loop over the run-time S (a loop per row cost ~300
      // instructions of set-up per row in SASS).
      // Row s + r S, lane: element (s + r S) 32 + lane = tid + r S 32 of a [T][32] array (the
      // compiler did not see s 32 + lane as tid and masked and merged the two per row).
      for (int q = 0; q < S; ++q) {
        const C* yq = y_s + q * T * 32 + g.tid;
#pragma unroll
        for (int r = 0; r < kFwdRows; ++r)
          if (live[r]) y[r] += yq[r * S * 32];
      }
      // The skip and the gate, a loop per case (a uniform test per row split the rows into
      // blocks the compiler did not interleave).
      if (p.P == 1) {
        if (need.z) {
#pragma unroll
          for (int r = 0; r < kFwdRows; ++r) {
            if (!live[r]) continue;
            const int i = g.tid + r * S * 32;
            const C zz = ts.z[i];
            y[r] = (y[r] + dsk * ts.x[i]) * (zz * sigmoid_c(zz));
          }
        } else {
#pragma unroll
          for (int r = 0; r < kFwdRows; ++r)
            if (live[r]) y[r] += dsk * ts.x[g.tid + r * S * 32];
        }
      }
      const int64_t row0 = (b * p.L + t0 + s) * p.D + d, stride = int64_t(S) * p.D;
      if (p.P == 1)
        st_rows<C, kFwdRows>(p.out, act_dt<BF>(p.out_dt), row0, stride, y, ok);
      else
        st_rows<C, kFwdRows>(p.ypart, sizeof(C) == 8 ? DType::f64 : DType::f32,
                             int64_t(g.pass) * p.B * p.L * p.D + row0, stride, y, ok);
    }
    __syncthreads();  // the next tile overwrites what this one read
  }
  if (p.fin && g.dvalid && g.seg == p.nseg - 1) {
#pragma unroll
    for (int k = 0; k < NT; ++k)
      if (s * NT + k < ncnt) p.fin[(b * p.D + d) * p.N + n0 + s * NT + k] = h[k];
  }
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
  constexpr bool kSumDt = !RST && std::is_same_v<Disc, Zoh<float>>;
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

// Several passes: out = (Σ_pass ypart + Dskip u) · silu(z).
template <class C>
__global__ void fwd_finalize(const Params<C> p) {
  const int64_t total = p.B * p.L * p.D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t dd = i % p.D, bt = i / p.D, t = bt % p.L, b = bt / p.L;
    C y = 0;
    for (int q = 0; q < p.P; ++q) y += p.ypart[q * total + i];
    if (p.Dskip.p) y += ld1<C>(p.Dskip, dd) * ld3<C>(p.u, b, t, dd);
    if (p.z.p) {
      C zz = ld3<C>(p.z, b, t, dd);
      y *= zz * sigmoid_c(zz);
    }
    st_any(p.out, i, p.out_dt, y);
  }
}

// ---- backward -------------------------------------------------------------------------------

// Reduce-scatter of CNT values per lane over the 32 lanes of a warp. Level by level (lane bit OFF
// from 16 down), each lane keeps half of its values and adds its partner's copy of that half, so
// after log2(CNT) levels each lane holds one value, v[0], summed over 2^levels lanes; remaining
// levels are plain butterflies. Every lane ends with the full 32-lane sum of value
// lane / (32 / CNT) (the halving levels read the lane's bits from the top: lanes 0 .. 32 / CNT - 1
// hold value 0, and so on); the sums have a fixed order (a + b and b + a are the same float).
template <int CNT, int OFF, class C>
__device__ __forceinline__ void reduce_scatter(C* v, int lane) {
  if constexpr (OFF > 0) {
    if constexpr (CNT > 1) {
      constexpr int H = CNT / 2;
      const bool up = (lane & OFF) != 0;
#pragma unroll
      for (int i = 0; i < H; ++i) {
        C send = up ? v[i] : v[i + H];
        C keep = up ? v[i + H] : v[i];
        v[i] = keep + __shfl_xor_sync(0xffffffffu, send, OFF);
      }
      reduce_scatter<H, OFF / 2>(v, lane);
    } else {
      v[0] += __shfl_xor_sync(0xffffffffu, v[0], OFF);
      reduce_scatter<1, OFF / 2>(v, lane);
    }
  }
}

constexpr int kBwdRows = 4, kBwdItems = 2;  // per thread, per sub-chunk (Flight's RR and KB)

// Elements of shared memory the backward uses: the tile (5 rows of 32 channels, B and C), the
// sub-chunk's states hs [T + 1][NT][nthr] (its start, then after each step), the per-slice sums
// dx, ddt, y_pre [S][T][32], the warp sums of dB and dC [T][S][2 NT] (2 npp per step), and the
// final dD / dbias slice sums [2][S][32].
__host__ __device__ constexpr size_t bwd_smem_elems(int T, int S, int npp, int NT) {
  const int nthr = 32 * S;
  return size_t(5 * T * 32 + 2 * T * npp + (T + 1) * NT * nthr + 3 * S * T * 32 + 2 * T * npp +
                2 * S * 32);
}

// Steps per backward sub-chunk: covered by the threads' prefetch registers, in kSmemTargetBwd
// unless that would leave fewer than 4 steps between barriers (rs_t: 1 with reset flags, T more
// elements), a multiple of the slices where above them. The variants with the slices fixed at
// compile time take it as a constant (see fwd_tile_steps).
__host__ __device__ constexpr int bwd_sub_steps(int S, int NT, int csize, int rs_t) {
  int T = kBwdRows * S < 32 * kBwdItems / NT ? kBwdRows * S : 32 * kBwdItems / NT;
  auto bytes = [&](int t) { return (bwd_smem_elems(t, S, S * NT, NT) + size_t(rs_t) * t) * csize; };
  while (T > 4 && bytes(T) > kSmemTargetBwd) --T;
  return T > S ? T - T % S : T;  // whole rows of slices (8 slices: 9 steps fit, 8 taken)
}

// The backward walks, per chunk c from the last: forward sub-chunks m = 0 .. msub - 2 (advancing
// the state from the chunk's saved state, keeping each sub-chunk's start), then backward
// sub-chunks m = msub - 1 .. 0. Each is one "item"; the next item's inputs are loaded while the
// current one is computed.
struct Item {
  int64_t c;  // -1: done
  int m;
  bool back;
};

// (Worked out on the host: a 64-bit division per item was ~30 instructions of long latency.)
template <class C>
__device__ __forceinline__ int msub_of(const Params<C>& p, int64_t c) {
  return c == p.nc - 1 ? p.M_last : p.M;
}

template <class C>
__device__ __forceinline__ Item first_item(const Params<C>& p, int64_t c) {
  if (c < 0) return Item{-1, 0, true};
  return msub_of(p, c) >= 2 ? Item{c, 0, false} : Item{c, 0, true};
}

// c_lo: the segment's first chunk (the walk ends after it).
template <class C>
__device__ __forceinline__ Item next_item(const Params<C>& p, Item it, int64_t c_lo) {
  const int ms = msub_of(p, it.c);
  if (!it.back) return it.m + 2 < ms ? Item{it.c, it.m + 1, false} : Item{it.c, ms - 1, true};
  if (it.m > 0) return Item{it.c, it.m - 1, true};
  return first_item(p, it.c - 1 >= c_lo ? it.c - 1 : int64_t(-1));
}

template <class C>
__device__ __forceinline__ void item_range(const Params<C>& p, Item it, int64_t& t1, int& len) {
  const int64_t ts = it.c * p.chunk, te = imin(p.L, ts + p.chunk);
  t1 = ts + int64_t(it.m) * p.T;
  len = int(imin(p.T, te - t1));
}

// Up to 4 states per thread, at least two blocks per multiprocessor: the compiler keeps it to 128
// registers (it takes ~180 for the no-reset variant otherwise, which halves the blocks in flight
// and cost the backward 60%, measured on an H200).
template <class C, int NT, class Disc, bool RST, int SC, bool BF>
__global__ void __launch_bounds__(32 * kMaxSlicesBwd, NT <= 4 ? 2 : 1)
    scan_bwd(const Params<C> p, const Disc disc) {
  // Zoh in float: the reverse step's own arithmetic (a[] holds a·log2(e), see Zoh).
  constexpr bool kZohF = std::is_same_v<Disc, Zoh<float>>;
  extern __shared__ __align__(16) unsigned char smem_raw[];
  constexpr int kT = SC > 0 ? bwd_sub_steps(SC, NT, int(sizeof(C)), RST ? 1 : 0) : 0;
  const int T = SC > 0 ? kT : p.T, npp = SC > 0 ? SC * NT : p.npp, S = SC > 0 ? SC : p.S,
            nthr = 32 * S;
  TileSmem<C> ts{};
  C* hs = grad_tile(smem_raw, T, npp, ts);  // then [T + 1][NT][nthr]
  C* dx_s = hs + (T + 1) * NT * nthr;      // [S][T][32] each
  C* ddt_s = dx_s + S * T * 32;
  C* yp_s = ddt_s + S * T * 32;
  C* dbc_s = yp_s + S * T * 32;            // [T][S][2 NT]
  C* red_s = dbc_s + T * 2 * npp;          // [2][S][32]
  C* rs_s = red_s + 2 * S * 32;            // [T] reset flags (with p.rst only)
  const bool has_rst = RST && p.rst != nullptr;

  const Geo g = geo<SC, NT>(p.N, p.D, npp, p.P);
  const int tid = g.tid, lane = g.lane, s = g.s, pass = g.pass, seg = g.seg;
  const int64_t b = g.b, d = g.d, n0 = g.n0;
  const int ncnt = g.ncnt;
  const int64_t BLD = p.B * p.L * p.D;
  C* sub = p.sub + ((int64_t(blockIdx.z) * p.B + b) * gridDim.x + blockIdx.x) * p.M * NT * nthr;
  // This segment's chunks, walked from c_hi down to c_lo.
  const int64_t cps = p.seg_len / p.chunk, c_lo = int64_t(seg) * cps,
                c_hi = imin(p.nc, c_lo + cps) - 1;

  C a[NT], dh[NT], dA[NT];
#pragma unroll
  for (int k = 0; k < NT; ++k) {
    const int j = s * NT + k;
    a[k] = g.dvalid && j < ncnt
               ? disc.coef(ld_any<C>(p.A.p, d * p.A.s[0] + (n0 + j) * p.A.s[1], p.A.dtype))
               : C(0);
    dh[k] = g.dvalid && j < ncnt && p.carry ? p.carry[seg_at(p, b, seg, n0 + j, d)] : C(0);
    dA[k] = C(0);
  }
  const C bias = g.dvalid && p.bias.p ? ld1<C>(p.bias, d) : C(0);
  // The D skip's terms go to pass 0 only (the passes' partial sums are added).
  const C dsk = g.dvalid && p.Dskip.p && pass == 0 ? ld1<C>(p.Dskip, d) : C(0);
  C acc_dD = 0, acc_db = 0;  // over the rows this thread finishes, for its lane's channel
  const bool has_z = p.z.p != nullptr;
  auto need_of = [&](const Item& it) { return Need{it.back && has_z, it.back, it.back}; };
  // After the dB / dC reduce-scatter, lanes g kRep .. g kRep + kRep - 1 hold the warp's sum of
  // value g (dB of state s NT + g for g < NT, then dC), stored at dbc_s[(j * S + s) * 2 NT + g]:
  // one address per step (a [step][B or C][state] layout took ~17 instructions per step to
  // address). All kRep lanes store their (bitwise equal) copy: a branch on the lane split the
  // unrolled steps into separate blocks the compiler would not interleave, and re-derived the
  // address inside it.
  constexpr int kRep = 32 / (2 * NT);  // lanes holding each sum
  C* const dbc_c = dbc_s + s * 2 * NT + lane / kRep;

  Flight<C, kBwdRows, kBwdItems> f;
  Item it = first_item(p, c_hi);
  {
    int64_t t1;
    int len;
    item_range(p, it, t1, len);
    issue<BF>(f, p, g, t1, len, need_of(it));
  }
  while (it.c >= 0) {
    const Item nx = next_item(p, it, c_lo);
    const int ms = msub_of(p, it.c);
    int64_t t1;
    int len;
    item_range(p, it, t1, len);
    if ((!it.back && it.m == 0) || (it.back && ms == 1)) {  // first item of the chunk
#pragma unroll
      for (int k = 0; k < NT; ++k)
        sub[k * nthr + tid] = g.dvalid && s * NT + k < ncnt
                                  ? p.states_in[((b * p.nc + it.c) * p.N + n0 + s * NT + k) * p.D + d]
                                  : C(0);
    }
    commit<BF>(f, p, g, len, bias, ts, need_of(it));
    if (has_rst) stage_resets(p, g, t1, len, rs_s);
    if (nx.c >= 0) {
      int64_t n1;
      int nlen;
      item_range(p, nx, n1, nlen);
      issue<BF>(f, p, g, n1, nlen, need_of(nx));
    }
    __syncthreads();

    if (!it.back) {
      // Forward through the sub-chunk, keeping the next sub-chunk's start state. The state
      // comes back from `sub` (this thread's own writes) rather than living in registers across
      // the backward items, where registers are short.
      C h[NT];
#pragma unroll
      for (int k = 0; k < NT; ++k) h[k] = sub[(it.m * NT + k) * nthr + tid];
#pragma unroll 4
      for (int j = 0; j < len; ++j) {
        const C dtv = ts.dt[j * 32 + lane], xv = ts.x[j * 32 + lane];
        C bv[NT];
        load_vec<NT>(ts.Bs + j * npp + s * NT, bv);
        if (has_rst && rs_s[j] != C(0)) {
#pragma unroll
          for (int k = 0; k < NT; ++k) h[k] = C(0);
        }
        C ab[NT];
        advance<NT>(disc, dtv, xv, a, bv, h, ab);
      }
#pragma unroll
      for (int k = 0; k < NT; ++k) sub[((it.m + 1) * NT + k) * nthr + tid] = h[k];
      __syncthreads();
      it = nx;
      continue;
    }

    // Recompute the sub-chunk's states: hs[0] = its start, hs[j + 1] = state after step t1 + j.
    // (This thread's slots: hst[(j * NT + k) * nthr].)
    C* const hst = hs + tid;
    C hh[NT];
#pragma unroll
    for (int k = 0; k < NT; ++k) {
      hh[k] = sub[(it.m * NT + k) * nthr + tid];
      hst[k * nthr] = hh[k];
    }
    // Each step's inputs are loaded one step ahead, before the states of the step before are
    // stored: the tile and hs are one shared array to the compiler, which therefore keeps loads
    // behind earlier stores, and the loads' latency would sit on the recurrence. (The last
    // step's look-ahead reads row len, unused and still inside shared memory: at most row T of
    // dt, x or Bs is the start of the array after it.)
    C dtn = ts.dt[lane], xn = ts.x[lane], bn[NT];
    load_vec<NT>(ts.Bs + s * NT, bn);
#pragma unroll 2
    for (int j = 0; j < len; ++j) {
      const C dtv = dtn, xv = xn;
      C bv[NT];
#pragma unroll
      for (int k = 0; k < NT; ++k) bv[k] = bn[k];
      dtn = ts.dt[(j + 1) * 32 + lane];
      xn = ts.x[(j + 1) * 32 + lane];
      load_vec<NT>(ts.Bs + (j + 1) * npp + s * NT, bn);
      if (has_rst && rs_s[j] != C(0)) {
#pragma unroll
        for (int k = 0; k < NT; ++k) hh[k] = C(0);
      }
      C ab[NT];
      advance<NT>(disc, dtv, xv, a, bv, hh, ab);
#pragma unroll
      for (int k = 0; k < NT; ++k) hst[((j + 1) * NT + k) * nthr] = hh[k];
    }

    // hc: the state after step j (hs[j + 1]); each step loads the one before it (hp, hs[j]) and
    // hands it on.
    C hc[NT];
#pragma unroll
    for (int k = 0; k < NT; ++k) hc[k] = hst[(len * NT + k) * nthr];
    C* const dx_c = dx_s + s * T * 32 + lane;  // this thread's column of the slice sums
    C* const ddt_c = ddt_s + s * T * 32 + lane;
    C* const yp_c = yp_s + s * T * 32 + lane;
    // A step is split in three: its loads (In), its arithmetic and dB / dC reduction (Out), its
    // stores. Step j's stores come after step j - 1's loads: the tile, hs and the sums are one
    // shared array to the compiler, which keeps loads behind earlier stores, so storing first
    // would put the load latency of every step on the recurrence (and the shuffle latency of the
    // reduction before the next step's loads).
    struct In {
      C hp[NT], bv[NT], cv[NT], dtv, xv, gyv;
      bool rs;
    };
    struct Out {
      C dx, ddt, yp, dbc;
    };
    auto load = [&](int j) {
      In in;
#pragma unroll
      for (int k = 0; k < NT; ++k) in.hp[k] = hst[(j * NT + k) * nthr];
      // At a sequence start h_prev enters as 0 and dh does not flow to the step before.
      in.rs = has_rst && rs_s[j] != C(0);
      load_vec<NT>(ts.Bs + j * npp + s * NT, in.bv);
      load_vec<NT>(ts.Cs + j * npp + s * NT, in.cv);
      in.dtv = ts.dt[j * 32 + lane];
      in.xv = ts.x[j * 32 + lane];
      in.gyv = ts.gy[j * 32 + lane];
      return in;
    };
    auto store = [&](int j, const Out& o) {
      dx_c[j * 32] = o.dx;
      ddt_c[j * 32] = o.ddt;
      yp_c[j * 32] = o.yp;
      dbc_c[j * 2 * npp] = o.dbc;
    };
    auto compute = [&](const In& in) {
      const C(&hp)[NT] = in.hp;
      const C(&bv)[NT] = in.bv;
      const C(&cv)[NT] = in.cv;
      const C dtv = in.dtv, xv = in.xv, gyv = in.gyv;
      const bool rs = in.rs;
      C dx = 0, ddt = 0, yp = 0;
      C v[2 * NT];  // dB contributions, then dC
      if constexpr (kZohF) {
        // Zoh, a[k] = a·log2(e): Ā = 2^(dt a[k]), B̄ = dt. With dht = dh + gy C and e = Ā:
        //   dx = dt Σ dht B,  ddt = Σ dht h_prev e a + x Σ dht B,  dA += dht h_prev e dt,
        //   dB = dht dt x,    dh_prev = dht e
        // (the generic step below, with the zero and unit derivatives and common factors taken
        // out: about half its instructions).
        const C dtx = dtv * xv;
        C sb = 0, qa_sum = 0;
#pragma unroll
        for (int k = 0; k < NT; ++k) {
          yp += cv[k] * hc[k];
          v[NT + k] = gyv * hc[k];
          const C dht = dh[k] + gyv * cv[k];
          const C dhn = dht * disc.abar(dtv, a[k]);
          const C qa = rs ? C(0) : dhn * hp[k];  // d Ā · Ā
          qa_sum += qa * a[k];
          dA[k] += qa * dtv;
          sb += dht * bv[k];
          v[k] = dht * dtx;
          dh[k] = rs ? C(0) : dhn;
        }
        dx = dtv * sb;
        ddt = qa_sum * kLn2 + xv * sb;
      } else {
#pragma unroll
        for (int k = 0; k < NT; ++k) {
          // y = Σ C h: dC += gy h, dh += gy C;  h = Ā h_prev + B̄ Bm x
          const C hpk = rs ? C(0) : hp[k];
          yp += cv[k] * hc[k];
          v[NT + k] = gyv * hc[k];
          const C dht = dh[k] + gyv * cv[k];
          C ab, bb, dab_ddt, dab_da, dbb_ddt, dbb_da;
          disc.grad(dtv, a[k], ab, bb, dab_ddt, dab_da, dbb_ddt, dbb_da);
          const C d_ab = dht * hpk;
          const C d_bb = dht * bv[k] * xv;
          dx += dht * bb * bv[k];
          v[k] = dht * bb * xv;
          ddt += d_ab * dab_ddt + d_bb * dbb_ddt;
          dA[k] += d_ab * dab_da + d_bb * dbb_da;
          dh[k] = rs ? C(0) : dht * ab;
        }
      }
#pragma unroll
      for (int k = 0; k < NT; ++k) hc[k] = hp[k];
      reduce_scatter<2 * NT, 16>(v, lane);
      return Out{dx, ddt, yp, v[0]};
    };
    Out o = compute(load(len - 1));
#pragma unroll 2
    for (int j = len - 2; j >= 0; --j) {
      const In in = load(j);
      store(j + 1, o);
      o = compute(in);
    }
    store(0, o);
    __syncthreads();

    // The rows this thread staged (epilogue_rows): combine the slices in order, write du,
    // ddelta, dz.
    {
      // Per row: the slice sums of dx, ddt and y_pre, then du, ddelta and dz in their place.
      C du_v[kBwdRows], dv_v[kBwdRows], dz_v[kBwdRows];
      bool ok[kBwdRows], live[kBwdRows];
      epilogue_rows<SC, kT>(s, S, len, g.dvalid, ok, live);
#pragma unroll
      for (int r = 0; r < kBwdRows; ++r) du_v[r] = dv_v[r] = dz_v[r] = 0;
      // Slices outer, rows inner (one loop over the run-time S; see scan_fwd).
      for (int q = 0; q < S; ++q) {
        const int e0 = q * T * 32 + tid;  // (q T + s) 32 + lane
#pragma unroll
        for (int r = 0; r < kBwdRows; ++r) {
          if (!live[r]) continue;
          const int e = e0 + r * S * 32;
          du_v[r] += dx_s[e];
          dv_v[r] += ddt_s[e];
          dz_v[r] += yp_s[e];
        }
      }
#pragma unroll
      for (int r = 0; r < kBwdRows; ++r) {
        if (!live[r]) continue;
        const int i = tid + r * S * 32;  // (s + r S) 32 + lane
        const C gyv = ts.gy[i], xv = ts.x[i];
        dv_v[r] *= ts.sp[i];  // softplus' = sigmoid
        du_v[r] += dsk * gyv;
        dz_v[r] = ts.gs[i] * (dz_v[r] + dsk * xv);
        acc_db += ok[r] ? dv_v[r] : C(0);
        acc_dD += ok[r] ? gyv * xv : C(0);
      }
      const int64_t row0 = (b * p.L + t1 + s) * p.D + d, stride = int64_t(S) * p.D;
      if (p.P == 1) {
        if (p.du) st_rows<C, kBwdRows>(p.du, act_dt<BF>(p.du_dt), row0, stride, du_v, ok);
        if (p.ddelta)
          st_rows<C, kBwdRows>(p.ddelta, act_dt<BF>(p.ddelta_dt), row0, stride, dv_v, ok);
        if (p.dz) st_rows<C, kBwdRows>(p.dz, act_dt<BF>(p.dz_dt), row0, stride, dz_v, ok);
      } else {
        const DType cdt = sizeof(C) == 8 ? DType::f64 : DType::f32;
        const int64_t o = int64_t(pass) * BLD + row0;
        st_rows<C, kBwdRows>(p.du_p, cdt, o, stride, du_v, ok);
        st_rows<C, kBwdRows>(p.dv_p, cdt, o, stride, dv_v, ok);
        if (has_z) st_rows<C, kBwdRows>(p.dz_p, cdt, o, stride, dz_v, ok);
      }
    }
    // dB, dC of this channel group for the sub-chunk's steps and the pass's states.
    // Thread tid takes column tid % (2 npp) of the sums (the pass's states of B, then of C) for
    // steps tid / (2 npp), + wb_step, ... (2 npp divides the block: 2 S NT | 32 S). Worked out
    // here, not kept: registers are the backward's limit.
    {
      const int wb_col = tid % (2 * npp), wb_which = wb_col / npp, wb_jn = wb_col - wb_which * npp,
                wb_j0 = tid / (2 * npp), wb_step = nthr / (2 * npp);
      const int src = (wb_jn / NT) * 2 * NT + wb_which * NT + wb_jn % NT;  // in a step's [S][2 NT]
      if (wb_jn < ncnt) {
        C* dst = (wb_which ? p.dC_part : p.dB_part) +
                 ((int64_t(blockIdx.x) * p.B + b) * p.L + t1) * p.N + n0 + wb_jn;
        if constexpr (SC > 0) {
          // A known number of rows per thread: unrolled, each store predicated.
          constexpr int kStep = 32 * SC / (2 * SC * NT), kN = (kT + kStep - 1) / kStep;
#pragma unroll
          for (int m = 0; m < kN; ++m) {
            const int j = wb_j0 + m * kStep;
            if (j < len) dst[int64_t(j) * p.N] = dbc_s[j * 2 * npp + src];
          }
        } else {
          for (int j = wb_j0; j < len; j += wb_step)
            dst[int64_t(j) * p.N] = dbc_s[j * 2 * npp + src];
        }
      }
    }
    __syncthreads();  // the next item overwrites shared memory
    it = nx;
  }

  if (g.dvalid) {
#pragma unroll
    for (int k = 0; k < NT; ++k)
      if (s * NT + k < ncnt) p.dA_part[seg_at(p, b, seg, n0 + s * NT + k, d)] = dA[k];
  }
  red_s[s * 32 + lane] = acc_dD;
  red_s[(S + s) * 32 + lane] = acc_db;
  __syncthreads();
  if (s == 0 && g.dvalid) {
    C sD = 0, sb = 0;
    for (int q = 0; q < S; ++q) {
      sD += red_s[q * 32 + lane];
      sb += red_s[(S + q) * 32 + lane];
    }
    if (pass == 0) p.dD_part[(int64_t(seg) * p.B + b) * p.D + d] = sD;
    p.dbias_part[((int64_t(seg) * p.P + pass) * p.B + b) * p.D + d] = sb;
  }
}

// One sum of partials: out[o(i)] = sum over r < R of parts[r M + i] (rows in order), i < M, with
// o(i) = (i % cols) (M / cols) + i / cols when cols > 0 (a transpose), else i.
template <class C>
struct PartSum {
  const C* parts;
  int64_t R, M, cols;
  void* out;
  DType dt;
  int64_t first_block;  // this sum's blocks: first_block .. the next sum's first_block - 1
  bool vec;  // 4 consecutive elements per thread, 16-byte loads (float, cols 0, M % 4 == 0)
};
constexpr int kMaxPartSums = 8;
template <class C>
struct PartSums {
  PartSum<C> s[kMaxPartSums];
  int n;
};

// Every partial sum of the backward (dA, dD, Δ bias, dB, dC and, with several passes, du, dΔ, dz)
// in one launch, each over its own range of blocks (five to eight launches of their own had cost
// a launch gap each, 24 layers a step).
template <class C>
__global__ void sum_parts(const PartSums<C> ps) {
  int j = 0;
  while (j + 1 < ps.n && blockIdx.x >= ps.s[j + 1].first_block) ++j;
  const PartSum<C>& q = ps.s[j];
  const int64_t i = (int64_t(blockIdx.x) - q.first_block) * blockDim.x + threadIdx.x;
  if constexpr (sizeof(C) == 4) {
    // Four elements per thread as one 16-byte load per row (one element per thread ran at about
    // half the copy bandwidth with 2 to 4 rows: the (P, B, L, D) pass partials of N = 64). The
    // rows are still added in order, so the sums are the same bits.
    if (q.vec) {
      if (4 * i >= q.M) return;
      const float4* r4 = reinterpret_cast<const float4*>(q.parts) + i;
      const int64_t step = q.M / 4;
      float4 acc = make_float4(0.f, 0.f, 0.f, 0.f);
#pragma unroll 4
      for (int64_t r = 0; r < q.R; ++r, r4 += step) {
        const float4 v = *r4;
        acc.x += v.x;
        acc.y += v.y;
        acc.z += v.z;
        acc.w += v.w;
      }
      st_any(q.out, 4 * i, q.dt, acc.x);
      st_any(q.out, 4 * i + 1, q.dt, acc.y);
      st_any(q.out, 4 * i + 2, q.dt, acc.z);
      st_any(q.out, 4 * i + 3, q.dt, acc.w);
      return;
    }
  }
  if (i >= q.M) return;
  C acc = 0;
  for (int64_t r = 0; r < q.R; ++r) acc += q.parts[r * q.M + i];
  const int64_t o = q.cols > 0 ? (i % q.cols) * (q.M / q.cols) + i / q.cols : i;
  st_any(q.out, o, q.dt, acc);
}

// ---- recurrent step -------------------------------------------------------------------------

template <class C, class Disc>
__global__ void scan_step_kernel(const Params<C> p, const Disc disc, C* state) {
  const int64_t total = p.B * p.D;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t b = i / p.D, dd = i % p.D;
    C v = ld3<C>(p.delta, b, 0, dd) + (p.bias.p ? ld1<C>(p.bias, dd) : C(0));
    const C dtv = p.softplus ? softplus_c(v) : v;
    const C xv = ld3<C>(p.u, b, 0, dd);
    C acc = 0;
    C* hrow = state + i * p.N;
    for (int64_t n = 0; n < p.N; ++n) {
      C ab, bb;
      disc.fwd(dtv, disc.coef(ld_any<C>(p.A.p, dd * p.A.s[0] + n * p.A.s[1], p.A.dtype)), ab, bb);
      const C h = ab * hrow[n] + bb * ld3<C>(p.Bm, b, 0, n) * xv;
      hrow[n] = h;
      acc += ld3<C>(p.Cm, b, 0, n) * h;
    }
    C y = acc + (p.Dskip.p ? ld1<C>(p.Dskip, dd) * xv : C(0));
    if (p.z.p) {
      C zz = ld3<C>(p.z, b, 0, dd);
      y *= zz * sigmoid_c(zz);
    }
    st_any(p.out, i, p.out_dt, y);
  }
}

// ---- host side ------------------------------------------------------------------------------

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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
    case 0: f(Zoh<C>{}); break;
    case 1: f(ZohExact<C>{}); break;
    default: f(Gbt<C>{C(pr.alpha), C(1 - pr.alpha)}); break;
  }
}

// Splits N into P passes of npp = S * NT states (S <= max_slices warps).
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

// Blocks of `kernel` one multiprocessor holds at once (registers, shared memory, threads).
template <class K>
int resident_blocks(K kernel, int threads, size_t smem) {
  int n = 0;
  SSM_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, threads, smem) == cudaSuccess,
            "selective_scan (CUDA): cannot read the kernel's occupancy");
  return std::max(n, 1);
}

// Splits the nc chunks into nseg segments of seg_len steps (whole chunks): `req` of them when
// set, else as many as one wave of blocks holds (`blocks` per segment, `per_sm` resident per
// multiprocessor). The recurrences are latency bound, so more blocks in flight run faster
// until the GPU is full, but each split costs one more recurrence (the carry pass) and a
// second wave costs a whole one. From the H200 sweeps in bench/gpu/scan_notes.md: the forward
// at (2, 1536, 8192, 16) (96 blocks a segment, 4 resident per SM) took 0.685 / 0.654 / 0.543 /
// 0.453 / 0.414 / 0.462 / 0.442 ms at 1 / 2 / 3 / 4 / 5 / 6 / 8 segments (5 is the last that
// fits one wave), the backward (3 resident) was fastest at 4; (8, 1536, 2048, 16), 384 blocks,
// is slower split.
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

template <class K>
void set_smem(K kernel, size_t bytes, int device) {
  SSM_CHECK(bytes <= max_shared_per_block(device), "selective_scan (CUDA): needs ", bytes,
            " bytes of shared memory per block, the device allows ", max_shared_per_block(device));
  if (bytes > (48 << 10))
    SSM_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                   int(bytes)) == cudaSuccess,
              "selective_scan (CUDA): cudaFuncSetAttribute failed");
}

void zero_fill(void* q, size_t bytes) {
  if (q && bytes) fill_bytes(q, 0, bytes);
}

size_t dsize(DType t) { return size_t(dtype_size(t)); }

ScanTuning g_tuning;

// Kernel variants. Only the path training and inference take — float32 arithmetic, zoh, no reset
// flags — is compiled for every register tiling and without the reset tests; float64 (tests),
// the other discretizations and packed batches take one generic variant (4 states per thread,
// reset flags tested at run time). That keeps the translation unit's compile time in check.
template <class C, class Disc>
constexpr bool kTuned = std::is_same_v<C, float> && std::is_same_v<Disc, Zoh<float>>;

bool tuned_path(const ScanProblem& pr) { return !pr.f64 && pr.discretization == 0 && !pr.seq_start; }

// Calls f(integral_constant NT, bool_constant RST, integral_constant SC, bool_constant BF) for
// the variant that serves (NT, S, pr); the backward (kFwd false) has no 16. The op's default
// picks (4 slices: NT 4 for N = 16 both ways, NT 16 for N = 64 forward) also have variants with
// the slices fixed at compile time (SC = 4; 4-9% fewer instructions, measured on an H200,
// bench/gpu/scan_notes.md), in general dtypes and with every activation in bfloat16 (BF, when
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

// Whether a (B, L, D) activation can be staged 4 channels at a time (8-byte loads; see issue):
// channel stride 1, rows and batches a multiple of 4 elements apart, 8-byte aligned. Absent: yes.
bool vec_ok(const ScanArg& a) {
  return !a.p || (a.s[2] == 1 && a.s[1] % 4 == 0 && a.s[0] % 4 == 0 &&
                  reinterpret_cast<uintptr_t>(a.p) % 8 == 0);
}

// Whether every activation the kernels read (u, delta, z, B, C) is bfloat16: with the outputs
// (and, backward, the output gradient) the caller checks, the BF variants apply. The backward's
// stage a channel per lane, so dtypes are all they need; the forward's stage u, delta and z 4
// channels at a time (vec_layout).
bool bf16_inputs(const ScanProblem& pr) {
  const bool z_ok = !pr.z.p || pr.z.dtype == DType::bf16;
  return pr.u.dtype == DType::bf16 && pr.delta.dtype == DType::bf16 &&
         pr.Bm.dtype == DType::bf16 && pr.Cm.dtype == DType::bf16 && z_ok;
}
bool vec_layout(const ScanProblem& pr) {
  return pr.D % 4 == 0 && vec_ok(pr.u) && vec_ok(pr.delta) && vec_ok(pr.z);
}

// Segment carries for the forward (rev false) or the backward: scan_carry over every segment but
// the one whose carry is zero, then scan_chain into k.carry. `k` has the main kernel's fields.
template <class C, class Disc>
void run_carries(const ScanProblem& pr, Params<C>& k, const Disc& disc, bool rev,
                 Scratch& scratch) {
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
  c.seg0 = rev ? 1 : 0;
  const size_t rs_t = pr.seq_start ? 1 : 0;
  auto smem = [&](int t) { return (size_t(5 * t * 32 + 2 * t * npp) + rs_t * t) * sizeof(C); };
  int T = std::min({64, kFwdRows * S, 32 * kFwdItems / 4});
  while (T > 1 && smem(T) > kSmemTarget) --T;
  c.T = T;
  dim3 grid{unsigned(ceil_div(D, 32)), unsigned(B), unsigned(P * (k.nseg - 1))};
  auto go = [&](auto rst, auto bfc) {
    constexpr bool R = decltype(rst)::value, BF = decltype(bfc)::value;
    if (rev) {
      set_smem(scan_carry<C, 4, Disc, R, true, BF>, smem(T), pr.device);
      scan_carry<C, 4, Disc, R, true, BF><<<grid, 32 * S, smem(T), stream()>>>(c, disc);
    } else {
      set_smem(scan_carry<C, 4, Disc, R, false, BF>, smem(T), pr.device);
      scan_carry<C, 4, Disc, R, false, BF><<<grid, 32 * S, smem(T), stream()>>>(c, disc);
    }
  };
  // The bfloat16 variant stages u, delta, z (and, reverse, the output gradient) as vectors.
  const bool bf = bf16_inputs(pr) && vec_layout(pr) &&
                  (!rev || (k.gout.dtype == DType::bf16 && vec_ok(k.gout)));
  if constexpr (kTuned<C, Disc>) {
    if (pr.seq_start) go(std::true_type{}, std::false_type{});
    else if (bf) go(std::false_type{}, std::true_type{});
    else go(std::false_type{}, std::false_type{});
  } else {
    go(std::true_type{}, std::false_type{});
  }
  check_launch("selective_scan (segment carries)");
  scan_chain<C><<<unsigned(std::min<int64_t>(ceil_div(B * N * D, 256), 65535)), 256, 0, stream()>>>(
      c, rev);
  check_launch("selective_scan (segment chain)");
}

template <class C>
void forward_impl(const ScanProblem& pr, const ScanForward& f) {
  const int64_t B = pr.B, L = pr.L, D = pr.D, N = pr.N;
  if (B == 0 || L == 0 || D == 0) {
    zero_fill(f.final_state, size_t(B * D * N) * sizeof(C));
    zero_fill(f.states, size_t(B * scan_chunks(pr) * N * D) * sizeof(C));
    return;
  }
  // States per thread: about N / 4, so that a block has 4 slices (measured on an H200 with
  // ssm_gpu_bench's sweep, bf16: N = 16 is fastest with 4, N = 64 with 16). Variants other than
  // the tuned path have 4 only.
  int NT = f.state_tile ? f.state_tile : g_tuning.fwd_tile;
  if (NT == 0) NT = N <= 16 ? 4 : N <= 32 ? 8 : 16;
  SSM_CHECK(NT == 2 || NT == 4 || NT == 8 || NT == 16,
            "selective_scan (CUDA): state_tile must be 2, 4, 8 or 16, got ", NT);
  if (!tuned_path(pr)) NT = 4;
  int P, npp, S;
  plan_passes(N, NT, kMaxSlices, P, npp, S);
  // A tile: at most 64 steps, covered by the threads' prefetch registers, in kSmemTarget.
  const int rs_t = pr.seq_start ? 1 : 0;  // reset flags: T more elements
  auto smem = [&](int t) {
    return size_t(3 * t * 32 + 2 * t * npp + S * t * 32 + rs_t * t) * sizeof(C);
  };
  int T = fwd_tile_steps(S, NT);
  while (T > 1 && smem(T) > kSmemTarget) --T;

  Scratch scratch(pr.device);
  Params<C> k = base_params<C>(pr);
  k.npp = npp;
  k.S = S;
  k.T = T;
  k.P = P;
  k.out = f.out;
  k.out_dt = f.out_dtype;
  k.states = static_cast<C*>(f.states);
  k.fin = static_cast<C*>(f.final_state);
  k.ypart = P > 1 ? scratch.get<C>(P * B * L * D) : nullptr;
  const int64_t G = ceil_div(D, 32);

  with_disc<C>(pr, [&](auto disc) {
    using Disc = decltype(disc);
    const bool bf = bf16_inputs(pr) && vec_layout(pr) && (P > 1 || f.out_dtype == DType::bf16);
    void (*kernel)(const Params<C>, const Disc) = nullptr;
    with_variant<C, Disc, true>(pr, NT, S, bf, [&](auto nt, auto rst, auto sc, auto bfc) {
      constexpr int V = decltype(nt)::value;
      constexpr bool R = decltype(rst)::value;
      constexpr int SC = decltype(sc)::value;
      constexpr bool BF = decltype(bfc)::value;
      SSM_CHECK(SC == 0 || T == fwd_tile_steps(SC, V),
                "selective_scan (CUDA): internal error, forward tile of ", T, " steps");
      kernel = scan_fwd<C, V, Disc, R, SC, BF>;
    });
    set_smem(kernel, smem(T), pr.device);
    plan_segments(pr, G * B * P, resident_blocks(kernel, 32 * S, smem(T)), g_tuning.fwd_segments,
                  k.nseg, k.seg_len);
    if (k.nseg > 1) run_carries<C, Disc>(pr, k, disc, false, scratch);
    dim3 grid{unsigned(G), unsigned(B), unsigned(P * k.nseg)};
    kernel<<<grid, 32 * S, smem(T), stream()>>>(k, disc);
  });
  check_launch("selective_scan forward");
  if (P > 1) {
    fwd_finalize<C><<<unsigned(std::min<int64_t>(ceil_div(B * L * D, 256), 65535)), 256, 0, stream()>>>(k);
    check_launch("selective_scan forward (pass sum)");
  }
}

// Collects the backward's sums of partials and runs them as one sum_parts launch.
template <class C>
struct PartSumLaunch {
  PartSums<C> ps{};
  int64_t blocks = 0;
  void add(const C* parts, int64_t R, int64_t M, int64_t cols, const ScanGrad& g) {
    if (!g.p || M == 0) return;
    SSM_CHECK(ps.n < kMaxPartSums, "selective_scan backward: too many sums of partials");
    const bool vec = sizeof(C) == 4 && cols == 0 && M % 4 == 0 &&
                     reinterpret_cast<uintptr_t>(parts) % 16 == 0;
    ps.s[ps.n++] = {parts, R, M, cols, g.p, g.dtype, blocks, vec};
    blocks += ceil_div(vec ? M / 4 : M, int64_t(256));
  }
  void run() {
    if (ps.n == 0) return;
    SSM_CHECK(blocks <= INT32_MAX, "selective_scan backward: ", blocks,
              " blocks of partial sums exceed the CUDA grid");
    sum_parts<C><<<unsigned(blocks), 256, 0, stream()>>>(ps);
    check_launch("selective_scan backward (sums of partials)");
  }
};

template <class C>
void backward_impl(const ScanProblem& pr, const ScanBackward& g) {
  const int64_t B = pr.B, L = pr.L, D = pr.D, N = pr.N;
  if (B == 0 || L == 0 || D == 0) {
    zero_fill(g.dA.p, size_t(D * N) * dsize(g.dA.dtype));
    zero_fill(g.dD.p, size_t(D) * dsize(g.dD.dtype));
    zero_fill(g.dbias.p, size_t(D) * dsize(g.dbias.dtype));
    zero_fill(g.dB.p, size_t(B * L * N) * dsize(g.dB.dtype));
    zero_fill(g.dC.p, size_t(B * L * N) * dsize(g.dC.dtype));
    return;
  }
  // 4 states per thread: the fastest tiling at every benchmark shape, N = 64 included (H200
  // sweep, bench/gpu/scan_notes.md).
  int NT = g.state_tile ? g.state_tile : g_tuning.bwd_tile;
  if (NT == 0) NT = 4;
  SSM_CHECK(NT == 2 || NT == 4 || NT == 8,
            "selective_scan (CUDA): backward state_tile must be 2, 4 or 8, got ", NT);
  if (!tuned_path(pr)) NT = 4;
  // At most 4 slices (16 states at 4 per thread) per pass: N = 64 as four passes of the 4-slice
  // variant beat two of an 8-slice one, 6.08 vs 6.90 ms fwd+bwd (H200, the bench's slices sweep):
  // its sub-chunks are 16 steps instead of 8 (shared memory) at the price of writing and summing
  // the passes' partial du, ddelta, dz.
  const int max_s = g_tuning.bwd_slices ? g_tuning.bwd_slices : 4;
  SSM_CHECK(max_s >= 1 && max_s <= kMaxSlicesBwd,
            "selective_scan (CUDA): backward slices must be 1 to ", kMaxSlicesBwd, ", got ", max_s);
  int P, npp, S;
  plan_passes(N, NT, max_s, P, npp, S);
  // Steps per sub-chunk: bwd_sub_steps.
  const size_t rs_t = pr.seq_start ? 1 : 0;  // reset flags: T more elements
  auto smem = [&](int t) { return (bwd_smem_elems(t, S, npp, NT) + rs_t * size_t(t)) * sizeof(C); };
  const int T = bwd_sub_steps(S, NT, int(sizeof(C)), int(rs_t));
  const int64_t G = ceil_div(D, 32);

  Scratch scratch(pr.device);
  Params<C> k = base_params<C>(pr);
  k.gout = g.gout;
  k.npp = npp;
  k.S = S;
  k.T = T;
  k.P = P;
  k.M = int(ceil_div(pr.chunk, T));
  k.M_last = int(ceil_div(L - (k.nc - 1) * pr.chunk, T));
  k.states_in = static_cast<const C*>(g.states);
  k.dB_part = scratch.get<C>(G * B * L * N);
  k.dC_part = scratch.get<C>(G * B * L * N);
  if (P == 1) {
    k.du = g.du.p;
    k.du_dt = g.du.dtype;
    k.ddelta = g.ddelta.p;
    k.ddelta_dt = g.ddelta.dtype;
    k.dz = pr.z.p ? g.dz.p : nullptr;
    k.dz_dt = g.dz.dtype;
  } else {
    k.du_p = scratch.get<C>(P * B * L * D);
    k.dv_p = scratch.get<C>(P * B * L * D);
    k.dz_p = pr.z.p ? scratch.get<C>(P * B * L * D) : nullptr;
  }

  int64_t Z = 0;  // grid z: passes x segments
  with_disc<C>(pr, [&](auto disc) {
    using Disc = decltype(disc);
    // P > 1 writes float partials whatever the gradients' dtypes.
    auto bf_grad = [&](const ScanGrad& q) { return !q.p || q.dtype == DType::bf16; };
    const bool bf = bf16_inputs(pr) && g.gout.dtype == DType::bf16 &&
                    (P > 1 || (bf_grad(g.du) && bf_grad(g.ddelta) && (!pr.z.p || bf_grad(g.dz))));
    void (*kernel)(const Params<C>, const Disc) = nullptr;
    with_variant<C, Disc, false>(pr, NT, S, bf, [&](auto nt, auto rst, auto sc, auto bfc) {
      constexpr int V = decltype(nt)::value;
      constexpr bool R = decltype(rst)::value;
      constexpr int SC = decltype(sc)::value;
      constexpr bool BF = decltype(bfc)::value;
      SSM_CHECK(SC == 0 || T == bwd_sub_steps(SC, V, int(sizeof(C)), R ? 1 : 0),
                "selective_scan (CUDA): internal error, backward sub-chunk of ", T, " steps");
      kernel = scan_bwd<C, V, Disc, R, SC, BF>;
    });
    set_smem(kernel, smem(T), pr.device);
    plan_segments(pr, G * B * P, resident_blocks(kernel, 32 * S, smem(T)), g_tuning.bwd_segments,
                  k.nseg, k.seg_len);
    Z = int64_t(P) * k.nseg;
    k.sub = scratch.get<C>(Z * B * G * k.M * NT * 32 * S);
    k.dA_part = scratch.get<C>(k.nseg * B * N * D);
    k.dD_part = scratch.get<C>(k.nseg * B * D);
    k.dbias_part = scratch.get<C>(Z * B * D);
    if (k.nseg > 1) run_carries<C, Disc>(pr, k, disc, true, scratch);
    dim3 grid{unsigned(G), unsigned(B), unsigned(Z)};
    kernel<<<grid, 32 * S, smem(T), stream()>>>(k, disc);
  });
  check_launch("selective_scan backward");

  PartSumLaunch<C> sums;
  sums.add(k.dA_part, B * k.nseg, N * D, D, g.dA);  // (B, nseg, N, D) -> (D, N)
  sums.add(k.dD_part, k.nseg * B, D, 0, g.dD);
  sums.add(k.dbias_part, Z * B, D, 0, g.dbias);
  sums.add(k.dB_part, G, B * L * N, 0, g.dB);
  sums.add(k.dC_part, G, B * L * N, 0, g.dC);
  if (P > 1) {
    sums.add(k.du_p, P, B * L * D, 0, g.du);
    sums.add(k.dv_p, P, B * L * D, 0, g.ddelta);
    if (pr.z.p) sums.add(k.dz_p, P, B * L * D, 0, g.dz);
  }
  sums.run();
}

template <class C>
void step_impl(const ScanProblem& pr, void* state, void* out, DType out_dtype) {
  const int64_t total = pr.B * pr.D;
  if (total == 0) return;
  Params<C> k = base_params<C>(pr);
  k.out = out;
  k.out_dt = out_dtype;
  with_disc<C>(pr, [&](auto disc) {
    scan_step_kernel<C><<<unsigned(std::min<int64_t>(ceil_div(total, 128), 65535)), 128, 0, stream()>>>(
        k, disc, static_cast<C*>(state));
  });
  check_launch("selective_scan_step");
}

}  // namespace

void set_scan_tuning(const ScanTuning& t) { g_tuning = t; }
ScanTuning scan_tuning() { return g_tuning; }

int64_t scan_chunks(const ScanProblem& p) { return std::max<int64_t>(1, ceil_div(p.L, p.chunk)); }

void selective_scan_forward(const ScanProblem& p, const ScanForward& f) {
  SSM_CHECK(cudaSetDevice(p.device) == cudaSuccess, "selective_scan: cannot select cuda:", p.device);
  if (p.f64)
    forward_impl<double>(p, f);
  else
    forward_impl<float>(p, f);
}

void selective_scan_backward(const ScanProblem& p, const ScanBackward& g) {
  SSM_CHECK(cudaSetDevice(p.device) == cudaSuccess, "selective_scan: cannot select cuda:", p.device);
  if (p.f64)
    backward_impl<double>(p, g);
  else
    backward_impl<float>(p, g);
}

void selective_scan_step(const ScanProblem& p, void* state, void* out, DType out_dtype) {
  SSM_CHECK(cudaSetDevice(p.device) == cudaSuccess, "selective_scan_step: cannot select cuda:",
            p.device);
  SSM_CHECK(p.L == 1, "selective_scan_step (CUDA): expected one step, got L = ", p.L);
  if (p.f64)
    step_impl<double>(p, state, out, out_dtype);
  else
    step_impl<float>(p, state, out, out_dtype);
}

}  // namespace ssm::cuda
