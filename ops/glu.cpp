// glu: the op (checks, one autograd record, backward), its CPU kernels and its test-table entry.
#include "ops/glu.h"

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/shape.h"
#include "ops/dispatch.h"
#include "ops/glu_math.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

void cpu_forward(const Tensor& x, const Tensor& y, int64_t outer, int64_t inner) {
  SSM_DISPATCH_FLOAT(x.dtype(), "glu", [&] {
    using S = Scalar<scalar_t>;
    const scalar_t* xp = x.data<scalar_t>();
    scalar_t* yp = y.data<scalar_t>();
    parallel_for(0, outer, grain_for_work(8 * inner), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const scalar_t *a = xp + 2 * o * inner, *b = a + inner;
        scalar_t* yr = yp + o * inner;
        for (int64_t i = 0; i < inner; ++i) yr[i] = S::store(glu_math::forward(S::load(a[i]), S::load(b[i])));
      }
    });
  });
}

void cpu_backward(const Tensor& x, const Tensor& dy, const Tensor& dx, int64_t outer, int64_t inner) {
  SSM_DISPATCH_FLOAT(x.dtype(), "glu", [&] {
    using S = Scalar<scalar_t>;
    using C = acc_t<scalar_t>;
    const scalar_t *xp = x.data<scalar_t>(), *gp = dy.data<scalar_t>();
    scalar_t* dp = dx.data<scalar_t>();
    parallel_for(0, outer, grain_for_work(12 * inner), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
        const scalar_t *a = xp + 2 * o * inner, *b = a + inner, *g = gp + o * inner;
        scalar_t *da = dp + 2 * o * inner, *db = da + inner;
        for (int64_t i = 0; i < inner; ++i) {
          C ga, gb;
          glu_math::backward(C(S::load(a[i])), C(S::load(b[i])), C(S::load(g[i])), ga, gb);
          da[i] = S::store(ga);
          db[i] = S::store(gb);
        }
      }
    });
  });
}

const GluKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(GluKernels, cpu, kCpuKernels);

}  // namespace

Tensor glu(const Tensor& x, int64_t dim) {
  const char* op = "glu";
  check_defined(x, op, "x");
  SSM_CHECK(x.dim() >= 1, op, ": x must have at least one dim, got ", describe(x));
  const int d = wrap_dim(dim, int(x.dim()), op);
  SSM_CHECK(x.size(d) % 2 == 0, op, ": the size of dim ", dim, " must be even (two halves), got ",
            describe(x));
  const GluKernels& k = kernels<GluKernels>(op, x);
  int64_t outer = 1, inner = x.size(d) / 2;
  for (int i = 0; i < d; ++i) outer *= x.size(i);
  for (int i = d + 1; i < int(x.dim()); ++i) inner *= x.size(i);
  Shape ys = x.shape();
  ys[size_t(d)] /= 2;
  Tensor xc = x.detach().contiguous();
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());
  if (y.numel() > 0) k.forward(xc, y, outer, inner);
  if (needs_grad({x})) {
    Saved sx(xc);
    record(OpId::glu, {x}, y, [sx, outer, inner, &k](Grads& g) {
      NoGradGuard ng;
      const Tensor& xs = sx.get();
      Tensor dx = Tensor::empty(xs.shape(), xs.dtype(), xs.device());
      if (xs.numel() > 0) k.backward(xs, g.out[0].to(xs.dtype()).contiguous(), dx, outer, inner);
      g.in[0] = dx;
    });
  }
  return y;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/glu.py, torch.nn.functional.glu)

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "glu",
             .nodes = {OpId::glu},
             .run = [](const Tensors& in, const json& args) {
               return Tensors{glu(in[0], args.value("dim", int64_t(-1)))};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"last dim", {randn(g, {3, 5, 8})}},
                   {"middle dim", {randn(g, {2, 6, 3})}, {{"dim", 1}}},
                   {"first dim", {randn(g, {4, 3})}, {{"dim", 0}}},
                   {"non-contiguous", {noncontig(randn(g, {4, 6}))}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
