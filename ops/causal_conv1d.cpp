// causal_conv1d: the op (checks, one autograd record, backward) over its kernel tables, the CPU
// kernels (channel-last, vectorised over channels) and the op's test-table entry.
#include "ops/causal_conv1d.h"

#include <cmath>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

constexpr int64_t kTile = 256;  // channels per inner tile (accumulators stay on the stack)

template <class A>
A silu_of(A z) {
  return z / (A(1) + std::exp(-z));
}

// d silu(z) / dz = s (1 + z (1 - s)), s = sigmoid(z).
template <class A>
A silu_grad(A z) {
  A s = A(1) / (A(1) + std::exp(-z));
  return s * (A(1) + z * (A(1) - s));
}

// Rows (b, t) per parallel task.
int64_t row_grain(int64_t D, int64_t W) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(D * W, 1));
}

// wt (W, D): the weight transposed, in the compute type, so each tap is a contiguous channel row.
template <class A>
std::vector<A> taps(const Tensor& weight) {
  int64_t D = weight.size(0), W = weight.size(1);
  std::vector<double> w = weight.to_vector<double>();
  std::vector<A> wt(size_t(W * D));
  for (int64_t d = 0; d < D; ++d)
    for (int64_t k = 0; k < W; ++k) wt[size_t(k * D + d)] = A(w[size_t(d * W + k)]);
  return wt;
}

// pos (B * L): the position of each (b, t) inside its packed sequence (t itself without
// seq_start). Taps reaching before the start of the sequence, time t - pos, read 0; with pos null
// the position is t.
std::vector<int64_t> seq_positions(const Tensor& seq_start, int64_t B, int64_t L) {
  std::vector<int64_t> pos;
  if (!seq_start.defined()) return pos;
  std::vector<int64_t> f = seq_start.to_vector<int64_t>();
  pos.resize(size_t(B * L));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < L; ++t) {
      size_t i = size_t(b * L + t);
      pos[i] = t == 0 || f[i] != 0 ? 0 : pos[i - 1] + 1;
    }
  return pos;
}

// y (B, L, D) from x (B, L, D), both contiguous.
template <class T>
void conv_forward(const T* x, T* y, const acc_t<T>* wt, const acc_t<T>* bias, int64_t B,
                  int64_t L, int64_t D, int64_t W, bool silu, const int64_t* pos) {
  using A = acc_t<T>;
  using S = Scalar<T>;
  parallel_for(0, B * L, row_grain(D, W), [&](int64_t r0, int64_t r1) {
    A acc[kTile];
    for (int64_t r = r0; r < r1; ++r) {
      int64_t t = pos ? pos[r] : r % L;
      for (int64_t d0 = 0; d0 < D; d0 += kTile) {
        int64_t n = std::min(kTile, D - d0);
        for (int64_t j = 0; j < n; ++j) acc[j] = bias[d0 + j];
        for (int64_t k = std::max<int64_t>(0, W - 1 - t); k < W; ++k) {
          const T* xs = x + (r - (W - 1) + k) * D + d0;  // time t - (W - 1) + k of batch b
          const A* wk = wt + k * D + d0;
          for (int64_t j = 0; j < n; ++j) acc[j] += wk[j] * S::load(xs[j]);
        }
        T* yr = y + r * D + d0;
        if (silu)
          for (int64_t j = 0; j < n; ++j) yr[j] = S::store(silu_of(acc[j]));
        else
          for (int64_t j = 0; j < n; ++j) yr[j] = S::store(acc[j]);
      }
    }
  });
}

// dx (if non-null) and, per fixed block of rows, partial sums part (nblk, W + 1, D) of
// dweight (rows 0..W-1, tap-major) and dbias (row W).
template <class T, class G>
void conv_backward(const T* x, const G* g, const acc_t<T>* wt, T* dx, acc_t<T>* part,
                   int64_t rows_per_blk, int64_t B, int64_t L, int64_t D, int64_t W,
                   const int64_t* pos) {
  using A = acc_t<T>;
  using S = Scalar<T>;
  using SG = Scalar<G>;
  int64_t R = B * L, nblk = (R + rows_per_blk - 1) / rows_per_blk;
  parallel_for(0, nblk, std::max<int64_t>(1, row_grain(D, W) / rows_per_blk), [&](int64_t k0,
                                                                                 int64_t k1) {
    A acc[kTile];
    for (int64_t blk = k0; blk < k1; ++blk) {
      A* p = part ? part + blk * (W + 1) * D : nullptr;
      if (p)
        for (int64_t i = 0; i < (W + 1) * D; ++i) p[i] = 0;
      for (int64_t r = blk * rows_per_blk; r < std::min(R, (blk + 1) * rows_per_blk); ++r) {
        int64_t t = r % L;
        if (dx) {
          // dx at time s = t gathers g at times s + (W - 1) - k < L (of the same sequence).
          for (int64_t d0 = 0; d0 < D; d0 += kTile) {
            int64_t n = std::min(kTile, D - d0);
            for (int64_t j = 0; j < n; ++j) acc[j] = 0;
            for (int64_t k = 0; k < W; ++k) {
              int64_t tg = t + (W - 1) - k;
              if (tg >= L) continue;
              if (pos && pos[r + (W - 1) - k] < (W - 1) - k) continue;
              const G* gs = g + (r + (W - 1) - k) * D + d0;
              const A* wk = wt + k * D + d0;
              for (int64_t j = 0; j < n; ++j) acc[j] += wk[j] * SG::load(gs[j]);
            }
            T* dxr = dx + r * D + d0;
            for (int64_t j = 0; j < n; ++j) dxr[j] = S::store(acc[j]);
          }
        }
        if (p) {
          const G* gr = g + r * D;
          if (pos) t = pos[r];
          for (int64_t k = std::max<int64_t>(0, W - 1 - t); k < W; ++k) {
            const T* xs = x + (r - (W - 1) + k) * D;
            A* pk = p + k * D;
            for (int64_t d = 0; d < D; ++d) pk[d] += SG::load(gr[d]) * S::load(xs[d]);
          }
          A* pb = p + W * D;
          for (int64_t d = 0; d < D; ++d) pb[d] += SG::load(gr[d]);
        }
      }
    }
  });
}

// gp (B*L, D) in the compute type = g * silu'(pre), pre = the conv recomputed from x.
template <class T>
void silu_pre_grad(const T* x, const T* g, const acc_t<T>* wt, const acc_t<T>* bias,
                   acc_t<T>* gp, int64_t B, int64_t L, int64_t D, int64_t W, const int64_t* pos) {
  using A = acc_t<T>;
  using S = Scalar<T>;
  parallel_for(0, B * L, row_grain(D, W), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      int64_t t = pos ? pos[r] : r % L;
      for (int64_t d = 0; d < D; ++d) {
        A pre = bias[d];
        for (int64_t k = std::max<int64_t>(0, W - 1 - t); k < W; ++k)
          pre += wt[k * D + d] * S::load(x[(r - (W - 1) + k) * D + d]);
        gp[r * D + d] = S::load(g[r * D + d]) * silu_grad(pre);
      }
    }
  });
}

template <class A>
std::vector<A> bias_vector(const Tensor& bias, int64_t D) {
  std::vector<A> b(size_t(D), A(0));
  if (bias.defined()) {
    std::vector<double> bv = bias.to_vector<double>();
    b.assign(bv.begin(), bv.end());
  }
  return b;
}

// ---- CPU kernels ----------------------------------------------------------------------------

void cpu_forward(const CausalConv1dArgs& a, const Tensor& y) {
  NoGradGuard ng;
  const Tensor& x = a.x;
  int64_t B = x.size(0), L = x.size(1), D = x.size(2), W = a.weight.size(1);
  std::vector<int64_t> pos = seq_positions(a.seq_start, B, L);
  Tensor xc = x.detach().contiguous();
  SSM_DISPATCH_FLOAT(x.dtype(), "causal_conv1d", [&] {
    using A = acc_t<scalar_t>;
    std::vector<A> wt = taps<A>(a.weight);
    std::vector<A> b = bias_vector<A>(a.bias, D);
    conv_forward<scalar_t>(static_cast<const scalar_t*>(xc.raw_data()),
                           static_cast<scalar_t*>(y.raw_data()), wt.data(), b.data(), B, L, D, W,
                           a.silu, pos.empty() ? nullptr : pos.data());
  });
}

void cpu_backward(const CausalConv1dArgs& a, const Tensor& gy, const Tensor& dx,
                  const Tensor& dw, const Tensor& db) {
  NoGradGuard ng;
  const Tensor& xv = a.x;
  int64_t B = xv.size(0), L = xv.size(1), D = xv.size(2), W = a.weight.size(1);
  std::vector<int64_t> pos_v = seq_positions(a.seq_start, B, L);
  const int64_t* ps = pos_v.empty() ? nullptr : pos_v.data();
  Tensor xc = xv.contiguous();
  bool need_params = dw.defined() || db.defined();
  int64_t R = B * L;
  // At most 64 blocks of rows: the partial sums stay small and their boundaries (so the
  // result) depend only on the shape.
  int64_t rows_per_blk = std::max<int64_t>(1, (R + 63) / 64);
  int64_t nblk = R == 0 ? 0 : (R + rows_per_blk - 1) / rows_per_blk;
  SSM_DISPATCH_FLOAT(xv.dtype(), "causal_conv1d", [&] {
    using A = acc_t<scalar_t>;
    using S = Scalar<scalar_t>;
    std::vector<A> wt = taps<A>(a.weight);
    std::vector<A> part(need_params ? size_t(nblk * (W + 1) * D) : 0);
    const auto* xp = static_cast<const scalar_t*>(xc.raw_data());
    const auto* gp = static_cast<const scalar_t*>(gy.raw_data());
    auto* dxp = dx.defined() ? static_cast<scalar_t*>(dx.raw_data()) : nullptr;
    A* pp = need_params ? part.data() : nullptr;
    if (a.silu) {  // the gradient of the pre-activation, kept in the compute type
      std::vector<A> b = bias_vector<A>(a.bias, D), gpre(size_t(R * D));
      silu_pre_grad<scalar_t>(xp, gp, wt.data(), b.data(), gpre.data(), B, L, D, W, ps);
      conv_backward<scalar_t, A>(xp, gpre.data(), wt.data(), dxp, pp, rows_per_blk, B, L, D, W, ps);
    } else {
      conv_backward<scalar_t, scalar_t>(xp, gp, wt.data(), dxp, pp, rows_per_blk, B, L, D, W, ps);
    }
    if (!need_params) return;
    // Sum the block partials in block order; dweight back to (D, W).
    auto* dwp = dw.defined() ? static_cast<scalar_t*>(dw.raw_data()) : nullptr;
    auto* dbp = db.defined() ? static_cast<scalar_t*>(db.raw_data()) : nullptr;
    parallel_for(0, D, 1024, [&](int64_t d0, int64_t d1) {
      for (int64_t d = d0; d < d1; ++d)
        for (int64_t k = 0; k <= W; ++k) {
          double s = 0;
          for (int64_t blk = 0; blk < nblk; ++blk)
            s += double(part[size_t((blk * (W + 1) + k) * D + d)]);
          if (k < W && dwp)
            dwp[d * W + k] = S::store(A(s));
          else if (k == W && dbp)
            dbp[d] = S::store(A(s));
        }
    });
  });
}

Tensor cpu_step(Tensor& state, const Tensor& x, const Tensor& weight, const Tensor& bias,
                bool silu) {
  const int64_t B = x.size(0), D = x.size(1), W = weight.size(1);
  DType cdt = compute_dtype(state.dtype());
  Tensor xc = x.to(state.dtype()).contiguous(), wc = weight.to(cdt).contiguous();
  Tensor bc = bias.defined() ? bias.to(cdt).contiguous() : Tensor();
  Tensor y = Tensor::empty({B, D}, cdt);
  SSM_DISPATCH_FLOAT(state.dtype(), "causal_conv1d_step", [&] {
    using S = Scalar<scalar_t>;
    using A = acc_t<scalar_t>;
    scalar_t* st = state.data<scalar_t>();
    const scalar_t* xp = xc.data<scalar_t>();
    const A* w = static_cast<const A*>(wc.raw_data());
    const A* bp = bc.defined() ? static_cast<const A*>(bc.raw_data()) : nullptr;
    A* yp = static_cast<A*>(y.raw_data());
    parallel_for(0, B * D, 1024, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        scalar_t* s = st + i * W;
        for (int64_t k = 0; k + 1 < W; ++k) s[k] = s[k + 1];
        s[W - 1] = xp[i];
        const A* wd = w + (i % D) * W;
        A acc = bp ? bp[i % D] : A(0);
        for (int64_t k = 0; k < W; ++k) acc += wd[k] * S::load(s[k]);
        yp[i] = silu ? silu_of(acc) : acc;
      }
    });
  });
  return y.to(x.dtype());
}

const CausalConv1dKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward, cpu_step};
SSM_REGISTER_KERNELS(CausalConv1dKernels, cpu, kCpuKernels);

}  // namespace

// ---- the op ---------------------------------------------------------------------------------

// Forward and backward as stated in the header. Saved: x, weight, bias and seq_start.
Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                     const Tensor& seq_start) {
  const char* op = "causal_conv1d";
  check_defined(x, op, "x");
  check_defined(weight, op, "weight");
  check_same_device(x, weight, op);
  SSM_CHECK(is_floating(x.dtype()), op, ": x must be a floating tensor, got ", describe(x));
  SSM_CHECK(x.dim() == 3, op, ": x must be 3-D (batch, length, channels), got ", describe(x));
  SSM_CHECK(weight.dim() == 2 && weight.size(0) == x.size(2), op,
            ": weight must have shape (channels, width) = (", x.size(2), ", W) for x ",
            describe(x), ", got ", describe(weight));
  int64_t B = x.size(0), L = x.size(1), D = x.size(2), W = weight.size(1);
  SSM_CHECK(W >= 2 && W <= 8, op, ": kernel width W = ", W, " (weight ", describe(weight),
            ") is not supported (expected 2 <= W <= 8)");
  SSM_CHECK(weight.dtype() == x.dtype(), op, ": weight must have x's dtype ", x.dtype(), ", got ",
            describe(weight));
  if (bias.defined()) {
    check_same_device(x, bias, op);
    SSM_CHECK(bias.dim() == 1 && bias.size(0) == D, op, ": bias must have shape (", D,
              ",) for x ", describe(x), ", got ", describe(bias));
    SSM_CHECK(bias.dtype() == x.dtype(), op, ": bias must have x's dtype ", x.dtype(), ", got ",
              describe(bias));
  }
  if (seq_start.defined()) {
    SSM_CHECK(seq_start.shape() == (Shape{B, L}), op, ": seq_start must be (B, L) = ", Shape{B, L},
              ", got ", describe(seq_start));
    SSM_CHECK(is_integral(seq_start.dtype()), op,
              ": seq_start must be an int32, int64 or bool tensor, got ", describe(seq_start));
    check_same_device(x, seq_start, op);
  }
  const CausalConv1dKernels& k = kernels<CausalConv1dKernels>(op, x);
  CausalConv1dArgs a{x.detach(), weight.detach(), bias.defined() ? bias.detach() : Tensor(),
                     Tensor(), silu};
  if (seq_start.defined()) {
    NoGradGuard ng;
    a.seq_start = seq_start.to(DType::i32).contiguous();
  }
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  k.forward(a, y);
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight), sb(bias), sr(a.seq_start);
    record(OpId::causal_conv1d, {x, weight, bias}, y, [sx, sw, sb, sr, silu, &k](Grads& g) {
      NoGradGuard ng;
      CausalConv1dArgs a{sx.get(), sw.get(), sb.get(), sr.get(), silu};
      const Tensor& xv = a.x;
      Tensor gy = g.out[0].to(xv.dtype()).contiguous();
      Device dev = xv.device();
      Tensor dx = g.needs(0) ? Tensor::empty(xv.shape(), xv.dtype(), dev) : Tensor();
      Tensor dw = g.needs(1) ? Tensor::empty(a.weight.shape(), xv.dtype(), dev) : Tensor();
      Tensor db = a.bias.defined() && g.needs(2) ? Tensor::empty(a.bias.shape(), xv.dtype(), dev)
                                                 : Tensor();
      k.backward(a, gy, dx, dw, db);
      g.in[0] = dx;
      g.in[1] = dw;
      g.in[2] = db;
    });
  }
  return y;
}

Tensor causal_conv1d_step(Tensor& state, const Tensor& x, const Tensor& weight,
                          const Tensor& bias, bool silu) {
  const char* op = "causal_conv1d_step";
  check_defined(state, op, "state");
  check_defined(x, op, "x");
  check_defined(weight, op, "weight");
  SSM_CHECK(x.dim() == 2, op, ": x must be (B, D), got ", describe(x));
  const int64_t B = x.size(0), D = x.size(1);
  SSM_CHECK(weight.dim() == 2 && weight.size(0) == D, op, ": weight must be (D, W) with D = ", D,
            ", got ", describe(weight));
  const int64_t W = weight.size(1);
  SSM_CHECK(state.shape() == (Shape{B, D, W}) && state.is_contiguous(), op,
            ": state must be a contiguous ", Shape{B, D, W}, " tensor, got ", describe(state));
  if (bias.defined())
    SSM_CHECK(bias.shape() == (Shape{D}), op, ": bias must be (", D, ",), got ", describe(bias));
  for (const Tensor* t : {&static_cast<const Tensor&>(state), &x, &weight, &bias})
    if (t->defined()) {
      SSM_CHECK(t->device() == state.device(), op, ": every input must be on state's device ",
                state.device(), ", got ", describe(*t));
      SSM_CHECK(is_floating(t->dtype()), op, ": expects floating tensors, got ", describe(*t));
    }
  NoGradGuard ng;
  Tensor y = kernels<CausalConv1dKernels>(op, state).step(state, x, weight, bias, silu);
  ++state.storage()->version;
  return y;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/causal_conv1d.py, which uses
// F.conv1d with groups = D and left padding W - 1) ---------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

Tensor starts(int64_t B, int64_t L, const std::vector<std::pair<int64_t, int64_t>>& at,
              DType dt = DType::i64) {
  std::vector<int64_t> v(size_t(B * L), 0);
  for (auto [b, t] : at) v[size_t(b * L + t)] = 1;
  return Tensor::from_vector(v, {B, L}).to(dt);
}

json args(bool bias, bool silu = false) {
  json a = {{"bias", bias}};
  if (silu) a["silu"] = true;
  return a;
}

SSM_OP_INFO({.name = "causal_conv1d",
             .nodes = {OpId::causal_conv1d},
             .run = [](const Tensors& in, const json& a) {
               Tensor b = a.at("bias").get<bool>() ? in[2] : Tensor();
               Tensor seq_start = in.size() > 3 ? in[3] : Tensor();
               return Tensors{causal_conv1d(in[0], in[1], b, a.value("silu", false), seq_start)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"W 4, bias", {randn(g, {2, 7, 3}), randn(g, {3, 4}), randn(g, {3})}, args(true)},
                   {"W 2, no bias", {randn(g, {1, 5, 4}), randn(g, {4, 2})}, args(false)},
                   {"L shorter than W", {randn(g, {2, 3, 2}), randn(g, {2, 5}), randn(g, {2})}, args(true)},
                   {"non-contiguous x", {noncontig(randn(g, {2, 6, 3})), randn(g, {3, 3}), randn(g, {3})},
                    args(true)},
                   {"W 8", {randn(g, {1, 9, 5}), randn(g, {5, 8})}, args(false)},
                   {"W 4, bias, silu", {randn(g, {2, 7, 3}), randn(g, {3, 4}), randn(g, {3})},
                    args(true, true)},
                   {"W 3, silu, non-contiguous x", {noncontig(randn(g, {2, 6, 3})), randn(g, {3, 3})},
                    args(false, true)},
                   // Packed rows (the 4th input is seq_start): starts at t = 1 and mid-row.
                   {"W 4, bias, packed",
                    {randn(g, {2, 9, 3}), randn(g, {3, 4}), randn(g, {3}),
                     starts(2, 9, {{0, 2}, {0, 5}, {1, 1}, {1, 6}})},
                    args(true)},
                   {"W 3, silu, packed",
                    {randn(g, {2, 8, 3}), randn(g, {3, 3}), randn(g, {3}),
                     starts(2, 8, {{0, 3}, {0, 4}, {1, 7}}, DType::i32)},
                    args(true, true)},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
