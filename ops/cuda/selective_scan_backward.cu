// CUDA selective scan, backward: the exact reverse scan (scan_bwd), the sums of its partials
// (sum_parts) and its launcher. What it shares with the forward (the layout of the work, the
// staging, the segment carries): selective_scan_common.cuh.
//
// Backward per chunk of `chunk` steps, latest first, as the CPU backward_block: the state at the
// chunk start comes from the forward; a forward sweep through the chunk stores the state at the
// start of every sub-chunk of T steps (thread-private scratch in global memory); then sub-chunks
// are taken latest first: their T states are recomputed into shared memory and walked backwards
// carrying dh in registers. dB and dC (sums over channels) are reduced over the warp's 32 lanes
// with a shuffle reduce-scatter, then written per 32-channel group and summed over groups by
// sum_parts; dA, dD and ddelta_bias are written per (segment, batch row) and summed the same way.
#include "ops/cuda/selective_scan_common.cuh"

namespace ssm::cuda {

namespace {

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
  // Zoh in float: the reverse step's own arithmetic (a[] holds a·log2(e): Zoh, CudaMath).
  constexpr bool kZohF = std::is_same_v<Disc, Zoh<float, CudaMath>>;
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
      // Slices outer, rows inner (one loop over the run-time S; see scan_fwd, forward file).
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

// ---- launcher ----------------------------------------------------------------------------------

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
  // sweep, docs/scan_kernel.md).
  const ScanTuning tuning = scan_tuning();
  int NT = g.state_tile ? g.state_tile : tuning.bwd_tile;
  if (NT == 0) NT = 4;
  SSM_CHECK(NT == 2 || NT == 4 || NT == 8,
            "selective_scan (CUDA): backward state_tile must be 2, 4 or 8, got ", NT);
  if (!tuned_path(pr)) NT = 4;
  // At most 4 slices (16 states at 4 per thread) per pass: N = 64 as four passes of the 4-slice
  // variant beat two of an 8-slice one, 6.08 vs 6.90 ms fwd+bwd (H200, the bench's slices sweep):
  // its sub-chunks are 16 steps instead of 8 (shared memory) at the price of writing and summing
  // the passes' partial du, ddelta, dz.
  const int max_s = tuning.bwd_slices ? tuning.bwd_slices : 4;
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
    plan_segments(pr, G * B * P, resident_blocks(kernel, 32 * S, smem(T)), tuning.bwd_segments,
                  k.nseg, k.seg_len);
    Z = int64_t(P) * k.nseg;
    k.sub = scratch.get<C>(Z * B * G * k.M * NT * 32 * S);
    k.dA_part = scratch.get<C>(k.nseg * B * N * D);
    k.dD_part = scratch.get<C>(k.nseg * B * D);
    k.dbias_part = scratch.get<C>(Z * B * D);
    if (k.nseg > 1) run_carries<true>(pr, k, disc, scratch);
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

}  // namespace

void selective_scan_backward(const ScanProblem& p, const ScanBackward& g) {
  SSM_CHECK(cudaSetDevice(p.device) == cudaSuccess, "selective_scan: cannot select cuda:", p.device);
  if (p.f64)
    backward_impl<double>(p, g);
  else
    backward_impl<float>(p, g);
}

}  // namespace ssm::cuda
