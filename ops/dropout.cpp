// Dropout: the keep mask is a pure function of (seed, base counter, element index), so backward
// regenerates it instead of storing it.
#include "ops/dropout.h"

#include <cmath>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// out[i] = in[i] * scale where element i is kept, else 0; in and out contiguous, n elements.
// Work is split by Philox blocks of 4 elements, each block computed once.
template <class T>
void dropout_kernel(const T* in, T* out, int64_t n, double p, double scale, uint64_t seed,
                    uint64_t base) {
  using A = acc_t<T>;
  using S = Scalar<T>;
  int64_t blocks = (n + 3) / 4;
  A s = A(scale);
  parallel_for(0, blocks, 4096, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      Philox r = philox4x32_10(seed, base + uint64_t(blk));
      int64_t i0 = blk * 4, m = std::min<int64_t>(4, n - i0);
      for (int64_t j = 0; j < m; ++j) {
        bool keep = double(uniform_f32(r.w[j])) >= p;
        out[i0 + j] = S::store(keep ? S::load(in[i0 + j]) * s : A(0));
      }
    }
  });
}

// ---- CPU kernels ----------------------------------------------------------------------------

void cpu_apply_mask(const Tensor& x, const Tensor& y, double p, double scale, uint64_t seed,
                    uint64_t base) {
  Tensor xc = x.contiguous();
  SSM_DISPATCH_FLOAT(x.dtype(), "dropout", [&] {
    dropout_kernel<scalar_t>(static_cast<const scalar_t*>(xc.raw_data()),
                             static_cast<scalar_t*>(y.raw_data()), x.numel(), p, scale, seed, base);
  });
}

const DropoutKernels kCpuKernels = {floating_dtypes, cpu_apply_mask};
SSM_REGISTER_KERNELS(DropoutKernels, cpu, kCpuKernels);

// The masked copy of x, fresh and contiguous.
Tensor apply_mask(const DropoutKernels& k, const Tensor& x, double p, uint64_t seed,
                  uint64_t base) {
  double scale = p < 1 ? 1.0 / (1.0 - p) : 0.0;
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  k.apply_mask(x, y, p, scale, seed, base);
  return y;
}

}  // namespace

// ---- the op ---------------------------------------------------------------------------------

// y = x keep / (1 - p).  Backward: dx = g keep / (1 - p), keep regenerated from (seed, base).
// Saved: seed and base counter only.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen) {
  check_defined(x, "dropout", "input");
  SSM_CHECK(is_floating(x.dtype()), "dropout: input must be a floating tensor, got ", describe(x));
  SSM_CHECK(p >= 0 && p <= 1, "dropout: probability p must be in [0, 1], got ", p);
  const DropoutKernels& k = kernels<DropoutKernels>("dropout", x);
  if (!training || p == 0) return x;
  Generator& g = gen ? *gen : default_generator();
  uint64_t seed = g.seed();
  uint64_t base = g.reserve(uint64_t((x.numel() + 3) / 4));
  Tensor y;
  {
    NoGradGuard ng;
    y = apply_mask(k, x.detach(), p, seed, base);
  }
  if (needs_grad({x})) {
    DType dt = x.dtype();
    record(OpId::dropout, {x}, y, [p, seed, base, dt, &k](Grads& g) {
      Tensor go = g.out[0].dtype() == dt ? g.out[0] : g.out[0].to(dt);
      g.in[0] = apply_mask(k, go, p, seed, base);
    });
  }
  return y;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/dropout.py, which rebuilds our mask
// with its own Philox4x32-10 in pure Python). Each run makes a fresh Generator from the seed in
// args, so every call (gradcheck evaluates many) draws the same mask. --------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

json args(double p, uint64_t seed) { return {{"p", p}, {"seed", seed}}; }

SSM_OP_INFO({.name = "dropout",
             .nodes = {OpId::dropout},
             .run = [](const Tensors& in, const json& a) {
               Generator gen(a.at("seed").get<uint64_t>());
               return Tensors{dropout(in[0], a.at("p").get<double>(), true, &gen)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"p 0.3", {randn(g, {4, 5})}, args(0.3, 1)},
                   {"p 0.5, non-contiguous", {noncontig(randn(g, {6, 5}))}, args(0.5, 2)},
                   {"odd size, large seed", {randn(g, {3, 7})}, args(0.2, 0x123456789abcdefULL)},
                   {"p 1 drops everything", {randn(g, {3, 2})}, args(1.0, 4)},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
