// cumsum: a running sum along one dim, in float64 for floating inputs (int64 for integers).
//   cumsum -> Node "cumsum": dx = reverse cumsum of g, dx[l] = g[l] + ... + g[L-1]
#include "ops/cumsum.h"

#include <algorithm>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/along_dim.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/cumsum_cuda.h"
#endif

namespace ssm {

namespace {

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

// A 0-dim tensor as a 1-element 1-D view of the same storage (no graph).
Tensor as_1d(const Tensor& t) { return t.dim() == 0 ? make_view(t, Shape{1}, Shape{1}, t.offset()) : t; }

Tensor cumsum_impl(const Tensor& x, int d, bool reverse) {
  DType out_dtype = is_floating(x.dtype()) ? x.dtype() : DType::i64;
  Tensor out = Tensor::empty(x.shape(), out_dtype, x.device());
  Tensor x1 = as_1d(x), out1 = as_1d(out);
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {
    SSM_CHECK(is_floating(x.dtype()) || is_integral(x.dtype()),
              "cumsum: expects a real floating, integer or bool tensor, got ", describe(x));
    Shape rest = x1.shape(), xs = x1.strides(), os = out1.strides();
    rest.erase(d);
    xs.erase(d);
    os.erase(d);
    cuda::cumsum(cuda::make_walk<2>(rest, {xs, os}), x1.raw_data(), x.dtype(), out1.raw_data(),
                 out_dtype, x1.shape()[d], x1.strides()[d], out1.strides()[d], reverse,
                 x.device().index);
    return out;
  }
#endif
  if (is_floating(x.dtype())) {
    SSM_DISPATCH_FLOAT(x.dtype(), "cumsum", [&] {
      cumsum_kernel<scalar_t, scalar_t, double>(x1, out1, d, reverse);
    });
  } else {
    switch (x.dtype()) {
      // Unsigned sums wrap on overflow (as PyTorch's int64 sums do) instead of being UB.
      case DType::i32: cumsum_kernel<int32_t, int64_t, uint64_t>(x1, out1, d, reverse); break;
      case DType::i64: cumsum_kernel<int64_t, int64_t, uint64_t>(x1, out1, d, reverse); break;
      case DType::b8: cumsum_kernel<bool, int64_t, uint64_t>(x1, out1, d, reverse); break;
      default:
        SSM_FAIL("cumsum: expects a real floating, integer or bool tensor, got ", describe(x));
    }
  }
  return out;
}

}  // namespace

Tensor cumsum(const Tensor& x, int64_t dim) {
  check_defined(x, "cumsum", "x");
#ifndef SSM_WITH_CUDA
  SSM_CHECK(x.device().is_cpu(), "cumsum: no CUDA kernel in this build for ", describe(x));
#endif
  int d = wrap_dim(dim, x.dim(), "cumsum");
  Tensor out = cumsum_impl(x, d, false);
  // dx[l] = sum_{m >= l} g[m]: each x[l] reaches every later output.
  if (needs_grad({x})) {
    record(OpId::cumsum, {x}, out, [d](Grads& g) { g.in[0] = cumsum_impl(g.out[0], d, true); });
  }
  return out;
}

}  // namespace ssm
