// cumsum: a running sum along one dim, in float64 for floating inputs (int64 for integers),
// defined once over its kernel tables; the CPU kernel and the op's test-table entry.
//   cumsum -> Node "cumsum": dx = reverse cumsum of g, dx[l] = g[l] + ... + g[L-1]
#include "ops/cumsum.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/along_dim.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// ---- CPU kernel -----------------------------------------------------------------------------

// out = cumsum of x along d (from the end when `reverse`), accumulated in A. Threads split the
// positions outside d; each position runs its sum in order, so results do not depend on them.
template <class T, class O, class A>
void cumsum_kernel(const Tensor& x, const Tensor& out, int d, bool reverse) {
  Shape rest = x.shape(), xs = x.strides(), os = out.strides();
  rest.erase(d);
  xs.erase(d);
  os.erase(d);
  int64_t len = x.shape()[d], xstep = x.strides()[d], ostep = out.strides()[d];
  const T* xp = static_cast<const T*>(x.raw_data());
  O* op = static_cast<O*>(out.raw_data());
  auto load = [](T v) { return A(Scalar<T>::load(v)); };
  auto store = [](A v) { return Scalar<O>::store(acc_t<O>(v)); };
  for_each_position<2>(rest, {xs, os}, len, [&](const std::array<int64_t, 2>& off, int64_t n,
                                                 const std::array<int64_t, 2>& st) {
    const T* xq = xp + off[0];
    O* oq = op + off[1];
    if (st[0] == 1 && st[1] == 1) {
      // Neighbouring positions are adjacent in memory: carry a block of sums across dim d.
      constexpr int64_t kBlock = 64;
      A acc[kBlock];
      for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
        int64_t m = std::min(kBlock, n - i0);
        for (int64_t i = 0; i < m; ++i) acc[i] = A(0);
        for (int64_t s = 0; s < len; ++s) {
          int64_t l = reverse ? len - 1 - s : s;
          const T* xr = xq + i0 + l * xstep;
          O* orow = oq + i0 + l * ostep;
          for (int64_t i = 0; i < m; ++i) {
            acc[i] += load(xr[i]);
            orow[i] = store(acc[i]);
          }
        }
      }
      return;
    }
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = xq + i * st[0];
      O* orow = oq + i * st[1];
      A acc = A(0);
      for (int64_t s = 0; s < len; ++s) {
        int64_t l = reverse ? len - 1 - s : s;
        acc += load(xr[l * xstep]);
        orow[l * ostep] = store(acc);
      }
    }
  });
}

void cpu_cumsum(const Tensor& x, int d, bool reverse, const Tensor& out) {
  if (is_floating(x.dtype())) {
    SSM_DISPATCH_FLOAT(x.dtype(), "cumsum", [&] {
      cumsum_kernel<scalar_t, scalar_t, double>(x, out, d, reverse);
    });
  } else {
    switch (x.dtype()) {
      // Unsigned sums wrap on overflow (as PyTorch's int64 sums do) instead of being UB.
      case DType::i32: cumsum_kernel<int32_t, int64_t, uint64_t>(x, out, d, reverse); break;
      case DType::i64: cumsum_kernel<int64_t, int64_t, uint64_t>(x, out, d, reverse); break;
      case DType::b8: cumsum_kernel<bool, int64_t, uint64_t>(x, out, d, reverse); break;
      default:
        SSM_FAIL("cumsum: expects a real floating, integer or bool tensor, got ", describe(x));
    }
  }
}

const CumsumKernels kCpuKernels = {real_dtypes, cpu_cumsum};
SSM_REGISTER_KERNELS(CumsumKernels, cpu, kCpuKernels);

// ---- the op ---------------------------------------------------------------------------------

// A 0-dim tensor as a 1-element 1-D view of the same storage (no graph).
Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? make_view(t, Shape{1}, Shape{1}, t.offset()) : t; }

Tensor cumsum_impl(const CumsumKernels& k, const Tensor& x, int d, bool reverse) {
  DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor out = Tensor::empty(x.shape(), out_dtype, x.device());
  k.cumsum(as_1d(x), d, reverse, as_1d(out));
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  check_defined(x, "cumsum", "x");
  int d = wrap_dim(dim, x.dim(), "cumsum");
  SSM_CHECK(real_dtypes(x.dtype()), "cumsum: expects a real floating, integer or bool tensor, got ",
            describe(x));
  const CumsumKernels& k = kernels<CumsumKernels>("cumsum", x);
  Tensor out = cumsum_impl(k, x, d, false);
  // dx[l] = sum_{m >= l} g[m]: each x[l] reaches every later output.
  if (needs_grad({x})) {
    record(OpId::cumsum, {x}, out,
           [d, &k](Grads& g) { g.in[0] = cumsum_impl(k, g.out[0], d, true); });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/cumsum.py) ------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "cumsum",
             .nodes = {OpId::cumsum},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{cumsum(in[0], a.at("dim").get<int64_t>())};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"last dim", {randn(g, {3, 5})}, {{"dim", 1}}},
                   {"first dim", {randn(g, {4, 3})}, {{"dim", 0}}},
                   {"3-d, negative dim", {randn(g, {2, 5, 3})}, {{"dim", -2}}},
                   {"non-contiguous, dim 0", {noncontig(randn(g, {5, 4}))}, {{"dim", 0}}},
                   {"non-contiguous, dim 1", {noncontig(randn(g, {5, 4}))}, {{"dim", 1}}},
                   {"size-1 dim", {randn(g, {3, 1})}, {{"dim", 1}}},
                   {"0-dim", {randn(g, {})}, {{"dim", 0}}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
