// Depthwise causal conv1d over time, channel-last, vectorised over channels.
#include "ops/causal_conv1d.h"

#include <cmath>
#include <memory>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/causal_conv1d_cuda.h"
#endif

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

#ifdef SSM_WITH_CUDA
// ---- CUDA (kernels in ops/cuda/causal_conv1d.cu): x, weight and bias read with their strides --

// The weight, bias and activation fields, shared by the sequence and the single-step problems.
void set_weights(cuda::ConvProblem& p, const Tensor& weight, const Tensor& bias, bool silu) {
  p.W = weight.size(1);
  p.w = weight.raw_data();
  p.sw[0] = weight.stride(0);
  p.sw[1] = weight.stride(1);
  if (bias.defined()) {
    p.bias = bias.raw_data();
    p.sb = bias.stride(0);
  }
  p.silu = silu;
}

cuda::ConvProblem conv_problem(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                               const Tensor& rst) {
  cuda::ConvProblem p;
  p.device = x.device().index;
  p.dtype = x.dtype();
  p.B = x.size(0);
  p.L = x.size(1);
  p.D = x.size(2);
  p.x = x.raw_data();
  for (int i = 0; i < 3; ++i) p.sx[i] = x.stride(i);
  set_weights(p, weight, bias, silu);
  p.seq_start = rst.defined() ? static_cast<const int32_t*>(rst.raw_data()) : nullptr;
  return p;
}

Tensor causal_conv1d_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                          const Tensor& rst) {
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  cuda::causal_conv1d_forward(conv_problem(x, weight, bias, silu, rst), y.raw_data());
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight), sb(bias), sr(rst);
    bool has_bias = bias.defined();
    record(OpId::causal_conv1d, {x, weight, bias}, y, [sx, sw, sb, sr, has_bias, silu](Grads& g) {
      const Tensor &xv = sx.get(), &wv = sw.get(), &bv = sb.get();
      Tensor go = g.out[0];
      SSM_CHECK(go.dtype() == xv.dtype() && go.device() == xv.device(),
                "causal_conv1d backward: expects the output gradient in x's dtype and device, got ",
                describe(go));
      go = go.contiguous();
      Device dev = xv.device();
      Tensor dx = g.needs(0) ? Tensor::empty(xv.shape(), xv.dtype(), dev) : Tensor();
      Tensor dw = g.needs(1) ? Tensor::empty(wv.shape(), xv.dtype(), dev) : Tensor();
      Tensor db = has_bias && g.needs(2) ? Tensor::empty(bv.shape(), xv.dtype(), dev) : Tensor();
      auto ptr = [](const Tensor& t) { return t.defined() ? t.raw_data() : nullptr; };
      cuda::causal_conv1d_backward(conv_problem(xv, wv, bv, silu, sr.get()), go.raw_data(), ptr(dx),
                                   ptr(dw), ptr(db));
      if (dx.defined()) g.in[0] = dx;
      if (dw.defined()) g.in[1] = dw;
      if (db.defined()) g.in[2] = db;
    });
  }
  return y;
}
#endif

}  // namespace

// Forward and backward as stated in the header. Saved: x and weight.
Tensor causal_conv1d(const Tensor& x, const Tensor& weight, const Tensor& bias, bool silu,
                     const Tensor& seq_start) {
  const char* op = "causal_conv1d";
  check_defined(x, op, "x");
  check_defined(weight, op, "weight");
  check_same_device(x, weight, op);
#ifndef SSM_WITH_CUDA
  SSM_CHECK(x.device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(x));
#endif
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
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    Tensor rst;
    if (seq_start.defined()) {
      NoGradGuard ng;
      rst = seq_start.to(DType::i32).contiguous();
    }
    return causal_conv1d_cuda(x, weight, bias, silu, rst);
  }
#endif
  // Shared by the forward and the backward (read-only).
  auto pos = std::make_shared<const std::vector<int64_t>>(seq_positions(seq_start, B, L));
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  {
    NoGradGuard ng;
    Tensor xc = x.detach().contiguous();
    SSM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      using A = acc_t<scalar_t>;
      std::vector<A> wt = taps<A>(weight);
      std::vector<A> b = bias_vector<A>(bias, D);
      conv_forward<scalar_t>(static_cast<const scalar_t*>(xc.raw_data()),
                             static_cast<scalar_t*>(y.raw_data()), wt.data(), b.data(), B, L, D,
                             W, silu, pos->empty() ? nullptr : pos->data());
    });
  }
  if (needs_grad({x, weight, bias})) {
    Saved sx(x), sw(weight), sb(silu ? bias : Tensor());
    bool has_bias = bias.defined();
    record(OpId::causal_conv1d, {x, weight, bias}, y, [sx, sw, sb, has_bias, silu, pos](Grads& g) {
      const Tensor &xv = sx.get(), &wv = sw.get();
      const int64_t* ps = pos->empty() ? nullptr : pos->data();
      int64_t B = xv.size(0), L = xv.size(1), D = xv.size(2), W = wv.size(1);
      Tensor xc = xv.contiguous();
      Tensor go = g.out[0].dtype() == xv.dtype() ? g.out[0] : g.out[0].to(xv.dtype());
      go = go.contiguous();
      bool need_dx = g.needs(0), need_params = g.needs(1) || (has_bias && g.needs(2));
      int64_t R = B * L;
      // At most 64 blocks of rows: the partial sums stay small and their boundaries (so the
      // result) depend only on the shape.
      int64_t rows_per_blk = std::max<int64_t>(1, (R + 63) / 64);
      int64_t nblk = R == 0 ? 0 : (R + rows_per_blk - 1) / rows_per_blk;
      SSM_DISPATCH_FLOAT(xv.dtype(), "causal_conv1d", [&] {
        using A = acc_t<scalar_t>;
        using S = Scalar<scalar_t>;
        std::vector<A> wt = taps<A>(wv);
        std::vector<A> part(need_params ? size_t(nblk * (W + 1) * D) : 0);
        Tensor dx = need_dx ? Tensor::empty(xv.shape(), xv.dtype()) : Tensor();
        const auto* xp = static_cast<const scalar_t*>(xc.raw_data());
        const auto* gp = static_cast<const scalar_t*>(go.raw_data());
        auto* dxp = need_dx ? static_cast<scalar_t*>(dx.raw_data()) : nullptr;
        if (silu) {  // the gradient of the pre-activation, kept in the compute type
          std::vector<A> b = bias_vector<A>(sb.get(), D), gpre(size_t(R * D));
          silu_pre_grad<scalar_t>(xp, gp, wt.data(), b.data(), gpre.data(), B, L, D, W, ps);
          conv_backward<scalar_t, A>(xp, gpre.data(), wt.data(), dxp,
                                     need_params ? part.data() : nullptr, rows_per_blk, B, L, D, W,
                                     ps);
        } else {
          conv_backward<scalar_t, scalar_t>(xp, gp, wt.data(), dxp,
                                            need_params ? part.data() : nullptr, rows_per_blk, B, L,
                                            D, W, ps);
        }
        if (need_dx) g.in[0] = dx;
        if (!need_params) return;
        // Sum the block partials in block order; dweight back to (D, W).
        Tensor dw = Tensor::empty({D, W}, xv.dtype()), db = Tensor::empty({D}, xv.dtype());
        auto* dwp = static_cast<scalar_t*>(dw.raw_data());
        auto* dbp = static_cast<scalar_t*>(db.raw_data());
        parallel_for(0, D, 1024, [&](int64_t d0, int64_t d1) {
          for (int64_t d = d0; d < d1; ++d)
            for (int64_t k = 0; k <= W; ++k) {
              double s = 0;
              for (int64_t blk = 0; blk < nblk; ++blk)
                s += double(part[size_t((blk * (W + 1) + k) * D + d)]);
              if (k < W)
                dwp[d * W + k] = S::store(A(s));
              else
                dbp[d] = S::store(A(s));
            }
        });
        if (g.needs(1)) g.in[1] = dw;
        if (has_bias && g.needs(2)) g.in[2] = db;
      });
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
  if (bias.defined()) SSM_CHECK(bias.shape() == (Shape{D}), op, ": bias must be (", D, ",), got ", describe(bias));
  for (const Tensor* t : {&static_cast<const Tensor&>(state), &x, &weight, &bias})
    if (t->defined()) {
#ifdef SSM_WITH_CUDA
      SSM_CHECK(t->device() == state.device(), op, ": every input must be on state's device ",
                state.device(), ", got ", describe(*t));
#else
      SSM_CHECK(t->device().is_cpu(), op, ": no CUDA kernel in this build for ", describe(*t));
#endif
      SSM_CHECK(is_floating(t->dtype()), op, ": expects floating tensors, got ", describe(*t));
    }
  NoGradGuard ng;
#ifdef SSM_WITH_CUDA
  if (state.device().is_cuda()) {
    SSM_CHECK(weight.dtype() == (bias.defined() ? bias.dtype() : weight.dtype()), op,
              ": on CUDA, bias must have weight's dtype ", weight.dtype(), ", got ", describe(bias));
    cuda::ConvProblem p;
    p.device = state.device().index;
    p.dtype = weight.dtype();
    p.B = B;
    p.D = D;
    set_weights(p, weight, bias, silu);
    Tensor y = Tensor::empty({B, D}, x.dtype(), x.device());
    cuda::causal_conv1d_step(p, state.raw_data(), state.dtype(), x.raw_data(), x.dtype(), x.stride(0),
                             x.stride(1), y.raw_data(), y.dtype());
    ++state.storage()->version;
    return y;
  }
#endif
  DType cdt = compute_dtype(state.dtype());
  Tensor xc = x.to(state.dtype()).contiguous(), wc = weight.to(cdt).contiguous();
  Tensor bc = bias.defined() ? bias.to(cdt).contiguous() : Tensor();
  Tensor y = Tensor::empty({B, D}, cdt);
  SSM_DISPATCH_FLOAT(state.dtype(), op, [&] {
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
  ++state.storage()->version;
  return y.to(x.dtype());
}

}  // namespace ssm
