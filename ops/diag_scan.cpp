// diag_scan: the CPU kernels (a chunked parallel scan over time, threads also over batch and
// modes), the op (checks, one autograd record, backward through the adjoint scan), and its
// test-table entry.
#include "ops/diag_scan.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"
#include "ops/reduce.h"

namespace ssm {

namespace {

// ---- CPU kernels ------------------------------------------------------------------------------

// One scan's view of its inputs. Positions are visited in scan order j = 0 .. L-1; pos(j) is
// the time index, and the factor of the state carried into position k is factor(b, k, p).
template <class T>
struct Scan {
  const T* lam;
  const int32_t* rst;  // (B, L) or null
  bool per_step, reverse, adjoint;
  int64_t B, L, P;

  int64_t pos(int64_t j) const { return reverse ? L - 1 - j : j; }
  // Whether position k (scan order j) starts from zero: the first position, or a reset between
  // it and its predecessor (seq_start at the later of the two time indices).
  bool starts(int64_t b, int64_t j) const {
    if (j == 0) return true;
    if (!rst) return false;
    int64_t k = pos(j);
    return rst[b * L + (reverse ? k + 1 : k)] != 0;
  }
  // λ (re, im) of mode p at time index k (per step) or of the mode (time-invariant), for the
  // position k in scan order j (j > 0): λ_k, or conj(λ) of the previous position for the adjoint.
  const T* lambda_at(int64_t b, int64_t j) const {
    int64_t k = pos(adjoint ? j - 1 : j);
    return per_step ? lam + (b * L + k) * P * 2 : lam;
  }
};

// Scans positions [j0, j1) of batch b, modes [p0, p1), from state s (2 (p1 - p0) values, updated),
// writing x; with prod, also multiplies prod by each position's factor (the chunk's product).
template <class T>
void scan_range(const Scan<T>& sc, const T* bv, T* x, int64_t b, int64_t j0, int64_t j1,
                int64_t p0, int64_t p1, T* s, T* prod) {
  const T cs = sc.adjoint ? T(-1) : T(1);
  for (int64_t j = j0; j < j1; ++j) {
    int64_t k = sc.pos(j);
    const T* br = bv + (b * sc.L + k) * sc.P * 2;
    T* xr = x + (b * sc.L + k) * sc.P * 2;
    if (sc.starts(b, j)) {
      for (int64_t p = p0; p < p1; ++p) {
        T* sp = s + 2 * (p - p0);
        sp[0] = br[2 * p];
        sp[1] = br[2 * p + 1];
        xr[2 * p] = sp[0];
        xr[2 * p + 1] = sp[1];
        if (prod) prod[2 * (p - p0)] = prod[2 * (p - p0) + 1] = T(0);
      }
      continue;
    }
    const T* lr = sc.lambda_at(b, j);
    for (int64_t p = p0; p < p1; ++p) {
      T* sp = s + 2 * (p - p0);
      T ar = lr[2 * p], ai = cs * lr[2 * p + 1];
      T nr = ar * sp[0] - ai * sp[1] + br[2 * p];
      T ni = ar * sp[1] + ai * sp[0] + br[2 * p + 1];
      sp[0] = nr;
      sp[1] = ni;
      xr[2 * p] = nr;
      xr[2 * p + 1] = ni;
      if (prod) {
        T* q = prod + 2 * (p - p0);
        T qr = ar * q[0] - ai * q[1], qi = ar * q[1] + ai * q[0];
        q[0] = qr;
        q[1] = qi;
      }
    }
  }
}

// Adds (running product of the factors from j0) * carry to x over positions [j0, j1).
template <class T>
void fix_range(const Scan<T>& sc, T* x, int64_t b, int64_t j0, int64_t j1, int64_t p0, int64_t p1,
               const T* carry, T* run) {
  const T cs = sc.adjoint ? T(-1) : T(1);
  for (int64_t p = p0; p < p1; ++p) {
    run[2 * (p - p0)] = carry[2 * (p - p0)];
    run[2 * (p - p0) + 1] = carry[2 * (p - p0) + 1];
  }
  for (int64_t j = j0; j < j1; ++j) {
    if (sc.starts(b, j)) return;  // nothing before a reset reaches past it
    int64_t k = sc.pos(j);
    const T* lr = sc.lambda_at(b, j);
    T* xr = x + (b * sc.L + k) * sc.P * 2;
    for (int64_t p = p0; p < p1; ++p) {
      T* q = run + 2 * (p - p0);
      T ar = lr[2 * p], ai = cs * lr[2 * p + 1];
      T qr = ar * q[0] - ai * q[1], qi = ar * q[1] + ai * q[0];
      q[0] = qr;
      q[1] = qi;
      xr[2 * p] += qr;
      xr[2 * p + 1] += qi;
    }
  }
}

// Work items are (batch, mode block, time chunk). Mode blocks come first (they cost nothing
// extra); time chunks, whose fix-up pass redoes about half the work, only when batch and modes
// cannot occupy the threads.
struct Split {
  int64_t mode_blocks = 1, chunks = 1;
};

Split split_for(int64_t B, int64_t L, int64_t P, int64_t chunks) {
  const int64_t threads = num_threads();
  Split s;
  if (chunks > 0) {
    s.chunks = std::min(chunks, std::max<int64_t>(L, 1));
  } else if (B < threads) {
    s.mode_blocks = std::clamp<int64_t>((threads + B - 1) / B, 1, std::max<int64_t>(P / 32, 1));
    if (B * s.mode_blocks < threads)
      s.chunks = std::clamp<int64_t>((threads + B * s.mode_blocks - 1) / (B * s.mode_blocks), 1,
                                     std::max<int64_t>(L / 64, 1));
  }
  if (chunks > 0 && B * s.chunks < threads)
    s.mode_blocks = std::clamp<int64_t>((threads + B * s.chunks - 1) / (B * s.chunks), 1,
                                        std::max<int64_t>(P / 32, 1));
  return s;
}

template <class T>
void scan_t(const DiagScanArgs& a, const Tensor& bt, const Tensor& xt) {
  const int64_t B = bt.size(0), L = bt.size(1), P = bt.size(2);
  if (B * L * P == 0) return;
  Scan<T> sc{a.lambda.data<T>(), a.seq_start.defined() ? a.seq_start.data<int32_t>() : nullptr,
             a.per_step, a.reverse, a.adjoint, B, L, P};
  const T* bv = bt.data<T>();
  T* x = xt.data<T>();
  const Split sp = split_for(B, L, P, a.chunks);
  const int64_t MB = sp.mode_blocks, C = sp.chunks;
  auto modes = [&](int64_t m, int64_t& p0, int64_t& p1) {
    p0 = P * m / MB;
    p1 = P * (m + 1) / MB;
  };
  auto times = [&](int64_t c, int64_t& j0, int64_t& j1) {
    j0 = L * c / C;
    j1 = L * (c + 1) / C;
  };
  // Each chunk's end state and factor product from a zero start: (B, C, P, 2) each.
  std::vector<T> ends(size_t(B * C * P * 2)), prods(size_t(B * C * P * 2));
  const int64_t items = B * MB * C;
  parallel_for(0, items, grain_for_work(8 * (L / C) * (P / MB + 1)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / (MB * C), m = (i / C) % MB, c = i % C, p0, p1, j0, j1;
      modes(m, p0, p1);
      times(c, j0, j1);
      T* e = ends.data() + ((b * C + c) * P + p0) * 2;
      T* q = prods.data() + ((b * C + c) * P + p0) * 2;
      std::fill(e, e + 2 * (p1 - p0), T(0));
      for (int64_t p = 0; p < p1 - p0; ++p) {
        q[2 * p] = T(1);
        q[2 * p + 1] = T(0);
      }
      scan_range(sc, bv, x, b, j0, j1, p0, p1, e, C > 1 ? q : nullptr);
    }
  });
  if (C == 1) return;
  // Carries in order: carry_0 = 0, carry_c = prod_{c-1} carry_{c-1} + end_{c-1} (into ends).
  for (int64_t b = 0; b < B; ++b) {
    std::vector<T> carry(size_t(2 * P), T(0));
    for (int64_t c = 0; c < C; ++c) {
      T* e = ends.data() + (b * C + c) * P * 2;
      const T* q = prods.data() + (b * C + c) * P * 2;
      for (int64_t p = 0; p < P; ++p) {
        T cr = carry[size_t(2 * p)], ci = carry[size_t(2 * p + 1)];
        T nr = q[2 * p] * cr - q[2 * p + 1] * ci + e[2 * p];
        T ni = q[2 * p] * ci + q[2 * p + 1] * cr + e[2 * p + 1];
        e[2 * p] = cr;  // the carry into chunk c
        e[2 * p + 1] = ci;
        carry[size_t(2 * p)] = nr;
        carry[size_t(2 * p + 1)] = ni;
      }
    }
  }
  parallel_for(0, items, grain_for_work(8 * (L / C) * (P / MB + 1)), [&](int64_t i0, int64_t i1) {
    std::vector<T> run(size_t(2 * P));
    for (int64_t i = i0; i < i1; ++i) {
      int64_t b = i / (MB * C), m = (i / C) % MB, c = i % C, p0, p1, j0, j1;
      if (c == 0) continue;
      modes(m, p0, p1);
      times(c, j0, j1);
      fix_range(sc, x, b, j0, j1, p0, p1, ends.data() + ((b * C + c) * P + p0) * 2, run.data());
    }
  });
}

template <class T>
void lambda_grad_t(const DiagScanArgs& a, const Tensor& ht, const Tensor& xt, const Tensor& ot) {
  const int64_t B = ht.size(0), L = ht.size(1), P = ht.size(2);
  Scan<T> sc{nullptr, a.seq_start.defined() ? a.seq_start.data<int32_t>() : nullptr,
             a.per_step, a.reverse, false, B, L, P};
  const T* h = ht.data<T>();
  const T* x = xt.data<T>();
  T* o = ot.data<T>();
  parallel_for(0, B * L, grain_for_work(6 * P), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t b = r / L, j = r % L, k = sc.pos(j);
      T* orow = o + (b * L + k) * P * 2;
      if (sc.starts(b, j)) {
        std::fill(orow, orow + 2 * P, T(0));
        continue;
      }
      const T* hr = h + (b * L + k) * P * 2;
      const T* xr = x + (b * L + sc.pos(j - 1)) * P * 2;
      for (int64_t p = 0; p < P; ++p) {  // h conj(x)
        orow[2 * p] = hr[2 * p] * xr[2 * p] + hr[2 * p + 1] * xr[2 * p + 1];
        orow[2 * p + 1] = hr[2 * p + 1] * xr[2 * p] - hr[2 * p] * xr[2 * p + 1];
      }
    }
  });
}

void cpu_scan(const DiagScanArgs& a, const Tensor& b, const Tensor& x) {
  if (b.dtype() == DType::f32)
    scan_t<float>(a, b, x);
  else
    scan_t<double>(a, b, x);
}

void cpu_lambda_grad(const DiagScanArgs& a, const Tensor& h, const Tensor& x, const Tensor& out) {
  if (h.dtype() == DType::f32)
    lambda_grad_t<float>(a, h, x, out);
  else
    lambda_grad_t<double>(a, h, x, out);
}

const DiagScanKernels kCpuKernels = {wide_float_dtypes, cpu_scan, cpu_lambda_grad};
SSM_REGISTER_KERNELS(DiagScanKernels, cpu, kCpuKernels);

}  // namespace

// ---- the op -----------------------------------------------------------------------------------

Tensor diag_scan(const Tensor& lambda, const Tensor& b, bool reverse, const Tensor& seq_start,
                 int64_t chunks) {
  const char* op = "diag_scan";
  check_defined(lambda, op, "lambda");
  check_defined(b, op, "b");
  check_same_device(b, lambda, op);
  SSM_CHECK(b.dtype() == DType::f32 || b.dtype() == DType::f64, op,
            ": b must be float32 or float64 (16-bit inputs are cast to float32 first), got ",
            describe(b));
  SSM_CHECK(b.dim() == 4 && b.size(3) == 2, op,
            ": b must be (batch, length, modes, 2) complex pairs, got ", describe(b));
  const int64_t B = b.size(0), L = b.size(1), P = b.size(2);
  SSM_CHECK(lambda.dtype() == b.dtype(), op, ": lambda must have b's dtype ", b.dtype(), ", got ",
            describe(lambda));
  const bool per_step = lambda.dim() == 4;
  SSM_CHECK((lambda.dim() == 2 && lambda.shape() == (Shape{P, 2})) ||
                (per_step && lambda.shape() == b.shape()),
            op, ": lambda must be (modes, 2) = ", Shape{P, 2}, " or b's shape ", b.shape(),
            ", got ", describe(lambda));
  SSM_CHECK(chunks >= 0, op, ": chunks must be >= 0 (0: from the thread count), got ", chunks);
  DiagScanArgs a;
  a.per_step = per_step;
  a.reverse = reverse;
  a.chunks = chunks;
  a.lambda = lambda.detach().contiguous();
  if (seq_start.defined()) {
    SSM_CHECK(seq_start.shape() == (Shape{B, L}), op, ": seq_start must be (B, L) = ",
              Shape{B, L}, ", got ", describe(seq_start));
    SSM_CHECK(is_integral(seq_start.dtype()), op,
              ": seq_start must be an int32, int64 or bool tensor, got ", describe(seq_start));
    check_same_device(b, seq_start, op);
    NoGradGuard ng;
    a.seq_start = seq_start.to(DType::i32).contiguous();
  }
  const DiagScanKernels& k = kernels<DiagScanKernels>(op, b);
  Tensor x = Tensor::empty({B, L, P, 2}, b.dtype(), b.device());
  k.scan(a, b.detach().contiguous(), x);
  if (!needs_grad({lambda, b})) return x;
  Saved sx(x);
  record(OpId::diag_scan, {lambda, b}, x, [a, sx, &k](Grads& g) {
    NoGradGuard ng;
    const Tensor& x = sx.get();
    Tensor gx = g.out[0].to(x.dtype()).contiguous();
    // h = dL/dx: the scan the other way with conj(λ) of the neighbour (DiagScanArgs::adjoint).
    DiagScanArgs adj = a;
    adj.reverse = !a.reverse;
    adj.adjoint = true;
    Tensor h = Tensor::empty(x.shape(), x.dtype(), x.device());
    k.scan(adj, gx, h);
    if (g.needs(0)) {
      Tensor gl = Tensor::empty(x.shape(), x.dtype(), x.device());
      k.lambda_grad(a, h, x, gl);
      g.in[0] = a.per_step ? gl : sum(gl, {0, 1});
    }
    if (g.needs(1)) g.in[1] = h;
  });
  return x;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/diag_scan.py, a plain loop over
// time in complex128) ------------------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// A stable λ: |λ| in [0.5, 0.95), any phase.
Tensor stable_lambda(Generator& g, const Shape& shape) {
  Tensor r = uniform(g, shape, 0.5, 0.95), t = uniform(g, shape, -3.0, 3.0);
  std::vector<double> rv = r.to_vector<double>(), tv = t.to_vector<double>(), v;
  for (size_t i = 0; i < rv.size(); ++i) {
    v.push_back(rv[i] * std::cos(tv[i]));
    v.push_back(rv[i] * std::sin(tv[i]));
  }
  Shape s = shape;
  s.push_back(2);
  return Tensor::from_vector(v, s);
}

Tensor starts(int64_t B, int64_t L, const std::vector<std::pair<int64_t, int64_t>>& at) {
  std::vector<int64_t> v(size_t(B * L), 0);
  for (auto [b, t] : at) v[size_t(b * L + t)] = 1;
  return Tensor::from_vector(v, {B, L});
}

SSM_OP_INFO({.name = "diag_scan",
             .nodes = {OpId::diag_scan},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{diag_scan(in[0], in[1], a.value("reverse", false),
                                        in.size() > 2 ? in[2] : Tensor(), a.value("chunks", 0))};
             },
             .samples = [](Generator& g) {
               json rev = {{"reverse", true}};
               std::vector<Sample> s;
               s.push_back({"time-invariant", {stable_lambda(g, {3}), randn(g, {2, 6, 3, 2})}});
               s.push_back({"reverse", {stable_lambda(g, {3}), randn(g, {2, 6, 3, 2})}, rev});
               s.push_back({"per step", {stable_lambda(g, {2, 5, 3}), randn(g, {2, 5, 3, 2})}});
               s.push_back({"per step, reverse", {stable_lambda(g, {2, 5, 3}), randn(g, {2, 5, 3, 2})}, rev});
               s.push_back({"3 time chunks", {stable_lambda(g, {4}), randn(g, {2, 10, 4, 2})},
                            {{"chunks", 3}}});
               s.push_back({"3 time chunks, per step, reverse",
                            {stable_lambda(g, {1, 10, 2}), randn(g, {1, 10, 2, 2})},
                            {{"chunks", 3}, {"reverse", true}}});
               s.push_back({"L 1", {stable_lambda(g, {2}), randn(g, {2, 1, 2, 2})}});
               s.push_back({"packed", {stable_lambda(g, {3}), randn(g, {2, 9, 3, 2}),
                                       starts(2, 9, {{0, 3}, {0, 7}, {1, 1}, {1, 4}})}});
               s.push_back({"packed, reverse, 4 chunks",
                            {stable_lambda(g, {2, 9, 3}), randn(g, {2, 9, 3, 2}),
                             starts(2, 9, {{0, 3}, {0, 4}, {1, 8}})},
                            {{"chunks", 4}, {"reverse", true}}});
               Tensor nc = randn(g, {2, 4, 3, 2}).permute({0, 2, 1, 3}).contiguous().permute({0, 2, 1, 3});
               s.push_back({"non-contiguous b", {stable_lambda(g, {3}), nc}});
               return s;
             },
             .lowp = false});  // float32 / float64 only

}  // namespace
}  // namespace testing

}  // namespace ssm
