// softmax / log_softmax: the op (checks, one autograd record, backward) over its kernel tables,
// the CPU forward kernels and fused backward kernels, and the ops' test-table entries.
//
// The input is viewed as a contiguous (A, C, K) array, C = the softmax dim, A = the dims before
// it, K = the dims after it. K == 1 (the last dim) walks contiguous rows; K > 1 walks tiles of kTile
// neighbouring k's at once, so the inner loops stay contiguous for any dim. Values are computed in
// the compute type (float32 for bf16/f16/f32, float64 for f64); sums are accumulated in double.
// The CUDA table (ops/cuda/softmax.cpp) takes the same (A, C, K) view.
#include "ops/softmax.h"

#include <cmath>
#include <limits>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

constexpr int64_t kTile = 64;

using Dims = SoftmaxDims;

Dims split_at(const Tensor& x, int d) {
  Dims s;
  for (int i = 0; i < x.dim(); ++i) (i < d ? s.A : i == d ? s.C : s.K) *= x.shape()[i];
  return s;
}

int64_t grain_for(int64_t work_per_item) {
  return std::max<int64_t>(1, 32768 / std::max<int64_t>(work_per_item, 1));
}

// y = softmax(x) or log_softmax(x) over C; x, y: (A, C, K) contiguous.
template <class T, bool Log>
void forward_kernel(const T* x, T* y, Dims s) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  const int64_t C = s.C, K = s.K;
  if (K == 1) {
    parallel_for(0, s.A, grain_for(C), [&](int64_t a0, int64_t a1) {
      std::vector<Acc> e(size_t(Log ? 0 : C));  // exp(x - max), reused for the output
      for (int64_t a = a0; a < a1; ++a) {
        const T* xr = x + a * C;
        T* yr = y + a * C;
        Acc m = -std::numeric_limits<Acc>::infinity();
        for (int64_t c = 0; c < C; ++c) {
          Acc v = S::load(xr[c]);
          m = v > m ? v : m;
        }
        double sum = 0;
        if constexpr (Log) {
          for (int64_t c = 0; c < C; ++c) sum += double(std::exp(S::load(xr[c]) - m));
          // (x - m) - log(sum): x - m is exact near the max, m + log(sum) would round first
          Acc ls = Acc(std::log(sum));
          for (int64_t c = 0; c < C; ++c) yr[c] = S::store((S::load(xr[c]) - m) - ls);
        } else {
          for (int64_t c = 0; c < C; ++c) {
            e[size_t(c)] = std::exp(S::load(xr[c]) - m);
            sum += double(e[size_t(c)]);
          }
          Acc inv = Acc(1.0 / sum);
          for (int64_t c = 0; c < C; ++c) yr[c] = S::store(e[size_t(c)] * inv);
        }
      }
    });
    return;
  }
  int64_t tiles = (K + kTile - 1) / kTile;
  parallel_for(0, s.A * tiles, grain_for(C * kTile), [&](int64_t t0, int64_t t1) {
    Acc m[kTile], post[kTile];
    double sum[kTile];
    for (int64_t t = t0; t < t1; ++t) {
      int64_t a = t / tiles, k0 = (t % tiles) * kTile, w = std::min(K, k0 + kTile) - k0;
      const T* xb = x + a * C * K + k0;
      T* yb = y + a * C * K + k0;
      for (int64_t j = 0; j < w; ++j) {
        m[j] = -std::numeric_limits<Acc>::infinity();
        sum[j] = 0;
      }
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < w; ++j) {
          Acc v = S::load(xb[c * K + j]);
          m[j] = v > m[j] ? v : m[j];
        }
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < w; ++j) sum[j] += double(std::exp(S::load(xb[c * K + j]) - m[j]));
      for (int64_t j = 0; j < w; ++j)  // log(sum), or 1 / sum for softmax
        post[j] = Log ? Acc(std::log(sum[j])) : Acc(1.0 / sum[j]);
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < w; ++j) {
          Acc v = S::load(xb[c * K + j]) - m[j];
          yb[c * K + j] = S::store(Log ? v - post[j] : std::exp(v) * post[j]);
        }
    }
  });
}

// softmax:     dx = y (g - sum_c g y)
// log_softmax: dx = g - exp(y) sum_c g
// y, g, dx: (A, C, K) contiguous.
template <class T, bool Log>
void backward_kernel(const T* y, const T* g, T* dx, Dims s) {
  using S = Scalar<T>;
  using Acc = acc_t<T>;
  const int64_t C = s.C, K = s.K;
  auto term = [](Acc yv, Acc gv) { return Log ? gv : gv * yv; };
  auto grad = [](Acc yv, Acc gv, Acc dot) { return Log ? gv - std::exp(yv) * dot : yv * (gv - dot); };
  if (K == 1) {
    parallel_for(0, s.A, grain_for(C), [&](int64_t a0, int64_t a1) {
      for (int64_t a = a0; a < a1; ++a) {
        const T* yr = y + a * C;
        const T* gr = g + a * C;
        T* dr = dx + a * C;
        double dot = 0;
        for (int64_t c = 0; c < C; ++c) dot += double(term(S::load(yr[c]), S::load(gr[c])));
        Acc d = Acc(dot);
        for (int64_t c = 0; c < C; ++c) dr[c] = S::store(grad(S::load(yr[c]), S::load(gr[c]), d));
      }
    });
    return;
  }
  int64_t tiles = (K + kTile - 1) / kTile;
  parallel_for(0, s.A * tiles, grain_for(C * kTile), [&](int64_t t0, int64_t t1) {
    double dot[kTile];
    for (int64_t t = t0; t < t1; ++t) {
      int64_t a = t / tiles, k0 = (t % tiles) * kTile, w = std::min(K, k0 + kTile) - k0;
      int64_t base = a * C * K + k0;
      for (int64_t j = 0; j < w; ++j) dot[j] = 0;
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < w; ++j) {
          int64_t i = base + c * K + j;
          dot[j] += double(term(S::load(y[i]), S::load(g[i])));
        }
      for (int64_t c = 0; c < C; ++c)
        for (int64_t j = 0; j < w; ++j) {
          int64_t i = base + c * K + j;
          dx[i] = S::store(grad(S::load(y[i]), S::load(g[i]), Acc(dot[j])));
        }
    }
  });
}

// ---- CPU kernels ----------------------------------------------------------------------------

void cpu_forward(bool log, const Tensor& x, const SoftmaxDims& s, const Tensor& y) {
  SSM_DISPATCH_FLOAT(x.dtype(), log ? "log_softmax" : "softmax", [&] {
    const auto* px = static_cast<const scalar_t*>(x.raw_data());
    auto* py = static_cast<scalar_t*>(y.raw_data());
    if (log)
      forward_kernel<scalar_t, true>(px, py, s);
    else
      forward_kernel<scalar_t, false>(px, py, s);
  });
}

void cpu_backward(bool log, const Tensor& y, const Tensor& g, const SoftmaxDims& s,
                  const Tensor& dx) {
  SSM_DISPATCH_FLOAT(y.dtype(), "backward", [&] {
    const auto* py = static_cast<const scalar_t*>(y.raw_data());
    const auto* pg = static_cast<const scalar_t*>(g.raw_data());
    auto* pd = static_cast<scalar_t*>(dx.raw_data());
    if (log)
      backward_kernel<scalar_t, true>(py, pg, pd, s);
    else
      backward_kernel<scalar_t, false>(py, pg, pd, s);
  });
}

const SoftmaxKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(SoftmaxKernels, cpu, kCpuKernels);

// ---- the op ---------------------------------------------------------------------------------

// Forward and backward as stated in the header. Saved: y.
template <bool Log>
Tensor softmax_impl(const Tensor& x_in, int64_t dim) {
  OpId op = Log ? OpId::log_softmax : OpId::softmax;
  const char* name = op_name(op);
  check_defined(x_in, name, "input");
  SSM_CHECK(is_floating(x_in.dtype()), name, ": expects a floating tensor, got ", describe(x_in));
  int d = wrap_dim(dim, x_in.dim(), name);
  const SoftmaxKernels& k = kernels<SoftmaxKernels>(name, x_in);
  Dims s = split_at(x_in, d);
  Tensor x;
  {
    NoGradGuard ng;
    x = x_in.contiguous();
  }
  Tensor y = Tensor::empty(x_in.shape(), x_in.dtype(), x_in.device());
  k.forward(Log, x, s, y);
  if (needs_grad({x_in})) {
    Saved sy(y);
    record(op, {x_in}, y, [sy, s, &k](Grads& g) {
      const Tensor& yv = sy.get();
      Tensor go = (g.out[0].dtype() == yv.dtype() ? g.out[0] : g.out[0].to(yv.dtype())).contiguous();
      Tensor dx = Tensor::empty(yv.shape(), yv.dtype(), yv.device());
      k.backward(Log, yv, go, s, dx);
      g.in[0] = dx;
    });
  }
  return y;
}

}  // namespace

Tensor softmax(const Tensor& x, int64_t dim) { return softmax_impl<false>(x, dim); }
Tensor log_softmax(const Tensor& x, int64_t dim) { return softmax_impl<true>(x, dim); }

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/softmax.py) ---------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

// Last dim (rows), first and middle dims (tiles over the trailing dims, one of them partial),
// non-contiguous, large logits that overflow exp() without the max subtraction, and 0-dim.
std::vector<Sample> softmax_samples(Generator& g) {
  return {
      {"last dim", {randn(g, {3, 5})}, {{"dim", -1}}},
      {"first dim", {randn(g, {4, 3})}, {{"dim", 0}}},
      {"middle dim", {randn(g, {2, 3, 4})}, {{"dim", 1}}},
      {"middle dim, more than one tile", {randn(g, {2, 3, 70})}, {{"dim", 1}}},
      {"non-contiguous", {noncontig(randn(g, {4, 3}))}, {{"dim", -1}}},
      {"non-contiguous, dim 0", {noncontig(randn(g, {3, 4}))}, {{"dim", 0}}},
      {"large logits", {uniform(g, {3, 4}, 90.0, 100.0)}, {{"dim", 1}}},
      {"0-dim", {randn(g, {})}, {{"dim", 0}}},
  };
}

SSM_OP_INFO({.name = "softmax",
             .nodes = {OpId::softmax},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{softmax(in[0], a.at("dim").get<int64_t>())};
             },
             .samples = softmax_samples});

SSM_OP_INFO({.name = "log_softmax",
             .nodes = {OpId::log_softmax},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{log_softmax(in[0], a.at("dim").get<int64_t>())};
             },
             .samples = softmax_samples});

}  // namespace
}  // namespace testing

}  // namespace ssm
