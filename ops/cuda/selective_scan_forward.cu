// CUDA selective scan, forward: the scan kernel (scan_fwd), the sum of its passes
// (fwd_finalize), the recurrent step, and their launchers. What they share with the backward
// (the layout of the work, the staging, the segment carries): selective_scan_common.cuh.
#include "ops/cuda/selective_scan_common.cuh"

namespace ssm::cuda {

namespace {

// ---- forward -----------------------------------------------------------------------------------


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

// ---- launchers ---------------------------------------------------------------------------------

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
  const ScanTuning tuning = scan_tuning();
  int NT = f.state_tile ? f.state_tile : tuning.fwd_tile;
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
    plan_segments(pr, G * B * P, resident_blocks(kernel, 32 * S, smem(T)), tuning.fwd_segments,
                  k.nseg, k.seg_len);
    if (k.nseg > 1) run_carries<false>(pr, k, disc, scratch);
    dim3 grid{unsigned(G), unsigned(B), unsigned(P * k.nseg)};
    kernel<<<grid, 32 * S, smem(T), stream()>>>(k, disc);
  });
  check_launch("selective_scan forward");
  if (P > 1) {
    fwd_finalize<C><<<unsigned(std::min<int64_t>(ceil_div(B * L * D, 256), 65535)), 256, 0, stream()>>>(k);
    check_launch("selective_scan forward (pass sum)");
  }
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

void selective_scan_forward(const ScanProblem& p, const ScanForward& f) {
  SSM_CHECK(cudaSetDevice(p.device) == cudaSuccess, "selective_scan: cannot select cuda:", p.device);
  if (p.f64)
    forward_impl<double>(p, f);
  else
    forward_impl<float>(p, f);
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
