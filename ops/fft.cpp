// fft, ifft, rfft, irfft: the ops (checks, rows along the transformed dim, one autograd record,
// backward), the CPU kernel table over ops/fft_plan.h, and the ops' test-table entries.
#include "ops/fft.h"

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/dispatch.h"
#include "ops/elementwise.h"
#include "ops/fft_plan.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// ---- CPU kernels ----------------------------------------------------------------------------

template <class F>
void by_type(DType dt, const F& f) {
  if (dt == DType::f32)
    f(float{});
  else
    f(double{});
}

template <class T>
const T* in(const Tensor& t) {
  return static_cast<const T*>(t.raw_data());
}
template <class T>
T* out(const Tensor& t) {
  return static_cast<T*>(t.raw_data());
}

void cpu_c2c(const Tensor& x, const Tensor& y, int64_t n, bool inverse, double scale) {
  by_type(x.dtype(), [&](auto t) {
    using T = decltype(t);
    fft_cpu::c2c_rows<T>(in<T>(x), x.size(1), out<T>(y), y.size(1), x.size(0), n, inverse, T(scale));
  });
}

void cpu_r2c(const Tensor& x, const Tensor& y, int64_t n, double scale) {
  by_type(x.dtype(), [&](auto t) {
    using T = decltype(t);
    fft_cpu::r2c_rows<T>(in<T>(x), x.size(1), out<T>(y), y.size(1), x.size(0), n, T(scale));
  });
}

void cpu_c2r(const Tensor& x, const Tensor& y, int64_t n, double scale) {
  by_type(x.dtype(), [&](auto t) {
    using T = decltype(t);
    fft_cpu::c2r_rows<T>(in<T>(x), x.size(1), out<T>(y), y.size(1), x.size(0), n, T(scale));
  });
}

const FftKernels kCpuKernels = {wide_float_dtypes, cpu_c2c, cpu_r2c, cpu_c2r};
SSM_REGISTER_KERNELS(FftKernels, cpu, kCpuKernels);

// ---- rows along the transformed dim -----------------------------------------------------------

enum class Kind { fft, ifft, rfft, irfft };

bool complex_in(Kind k) { return k != Kind::rfft; }
bool complex_out(Kind k) { return k != Kind::irfft; }

// Where the transformed dim sits among the logical dims (those of the complex tensor, without
// the trailing 2 of the real pairs; the same indices in the real-pair tensor). The kernels see
// rows along it: it is moved behind the other logical dims (and before the trailing 2).
struct Layout {
  int d = 0;
  int logical = 0;
  // The permutation that moves d last, for a real (no pair dim) or complex tensor; and its inverse.
  Shape perm(bool complex) const {
    Shape p;
    for (int i = 0; i < logical; ++i)
      if (i != d) p.push_back(i);
    p.push_back(d);
    if (complex) p.push_back(logical);
    return p;
  }
  Shape inv(bool complex) const {
    Shape p = perm(complex), q = p;
    for (int i = 0; i < p.size(); ++i) q[int(p[i])] = i;
    return q;
  }
};

Layout layout_of(const Tensor& t, int64_t dim, bool complex, const char* op) {
  Layout l;
  l.logical = t.dim() - (complex ? 1 : 0);
  l.d = wrap_dim(dim, l.logical, op);
  return l;
}

// Rows along the transformed dim: the product of the other logical dims.
int64_t row_count(const Shape& shape, const Layout& l) {
  int64_t R = 1;
  for (int i = 0; i < l.logical; ++i)
    if (i != l.d) R *= shape[i];
  return R;
}

// t as contiguous rows (R, len) or (R, len, 2) along the transformed dim.
Tensor to_rows(const Tensor& t, const Layout& l, bool complex) {
  int64_t R = row_count(t.shape(), l), len = t.size(l.d);
  Tensor moved = t.permute(l.perm(complex)).contiguous();
  return complex ? moved.view({R, len, 2}) : moved.view({R, len});
}

// Fresh rows for a result of `shape` (the input's) with length len at the transformed dim.
Tensor new_rows(const Shape& shape, const Layout& l, int64_t len, bool complex, DType dt,
                Device dev) {
  int64_t R = row_count(shape, l);
  return complex ? Tensor::empty({R, len, 2}, dt, dev) : Tensor::empty({R, len}, dt, dev);
}

// Rows back to the layout of `shape` (the input's), with length len at the transformed dim.
Tensor from_rows(const Tensor& rows, const Shape& shape, const Layout& l, int64_t len,
                 bool complex) {
  Shape moved;
  for (int i = 0; i < l.logical; ++i)
    if (i != l.d) moved.push_back(shape[i]);
  moved.push_back(len);
  if (complex) moved.push_back(2);
  return rows.view(moved).permute(l.inv(complex));
}

// Per-bin weights (len, 1) for the backwards of rfft and irfft: `mid` for the bins 0 < k < n/2
// (those that stand for a conjugate pair), 1 for the others.
Tensor bin_weights(int64_t len, int64_t n, double mid, DType dt, Device dev) {
  std::vector<double> w(size_t(len), 1.0);
  for (int64_t k = 1; k < len && 2 * k < n; ++k) w[size_t(k)] = mid;
  return Tensor::from_vector(w, {len, 1}).to(dt).to(dev);
}

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::fft: return "fft";
    case Kind::ifft: return "ifft";
    case Kind::rfft: return "rfft";
    default: return "irfft";
  }
}

OpId kind_op(Kind k) {
  switch (k) {
    case Kind::fft: return OpId::fft;
    case Kind::ifft: return OpId::ifft;
    case Kind::rfft: return OpId::rfft;
    default: return OpId::irfft;
  }
}

// The op, written once for the four kinds.
Tensor transform(Kind kind, const Tensor& x, int64_t n, int64_t dim) {
  const char* op = kind_name(kind);
  const bool cin = complex_in(kind), cout = complex_out(kind);
  check_defined(x, op, "x");
  SSM_CHECK(!is_complex(x.dtype()), op, ": complex tensors are passed as real pairs (a trailing "
            "dim of 2, Tensor::view_as_real), got ", describe(x));
  SSM_CHECK(x.dtype() == DType::f32 || x.dtype() == DType::f64, op,
            ": expects a float32 or float64 tensor (as torch.fft, 16-bit inputs are cast to "
            "float32 first), got ", describe(x));
  if (cin)
    SSM_CHECK(x.dim() >= 2 && x.size(-1) == 2, op, ": expects a complex input as real pairs, "
              "(..., 2) with at least one dim before the 2 (torch.view_as_real), got ", describe(x));
  else
    SSM_CHECK(x.dim() >= 1, op, ": expects a tensor with at least one dim, got ", describe(x));
  Layout l = layout_of(x, dim, cin, op);
  const int64_t m = x.size(l.d);
  SSM_CHECK(n == -1 || n >= 1, op, ": n must be >= 1, or -1 for the default, got ", n);
  if (n == -1) {
    n = kind == Kind::irfft ? 2 * (m - 1) : m;
    SSM_CHECK(n >= 1, op, ": the default length ", kind == Kind::irfft ? "2 (m - 1)" : "m", " is ",
              n, " for ", m, " input elements along dim ", l.d, " of ", describe(x),
              "; pass n >= 1");
  }
  const int64_t F = n / 2 + 1;
  const int64_t out_len = kind == Kind::rfft ? F : n;
  const FftKernels& k = kernels<FftKernels>(op, x);

  Tensor y_rows;
  {
    NoGradGuard ng;
    Tensor x_rows = to_rows(x.detach(), l, cin);
    y_rows = new_rows(x.shape(), l, out_len, cout, x.dtype(), x.device());
    if (y_rows.numel() > 0) {
      switch (kind) {
        case Kind::fft: k.c2c(x_rows, y_rows, n, false, 1.0); break;
        case Kind::ifft: k.c2c(x_rows, y_rows, n, true, 1.0 / double(n)); break;
        case Kind::rfft: k.r2c(x_rows, y_rows, n, 1.0); break;
        case Kind::irfft: k.c2r(x_rows, y_rows, n, 1.0 / double(n)); break;
      }
    }
  }
  Tensor y = from_rows(y_rows, x.shape(), l, out_len, cout);
  if (needs_grad({x})) {
    Shape xshape = x.shape();
    DType dt = x.dtype();
    record(kind_op(kind), {x}, y, [kind, l, m, n, F, xshape, dt, &k](Grads& g) {
      NoGradGuard ng;
      const bool cin = complex_in(kind), cout = complex_out(kind);
      Tensor gy = g.out[0].to(dt);
      Tensor g_rows = to_rows(gy, l, cout);
      Tensor dx_rows = new_rows(xshape, l, m, cin, dt, gy.device());
      if (dx_rows.numel() > 0) {
        switch (kind) {
          case Kind::fft: k.c2c(g_rows, dx_rows, n, true, 1.0); break;
          case Kind::ifft: k.c2c(g_rows, dx_rows, n, false, 1.0 / double(n)); break;
          case Kind::rfft:
            k.c2r(mul(g_rows, bin_weights(F, n, 0.5, dt, gy.device())), dx_rows, n, 1.0);
            break;
          case Kind::irfft:
            k.r2c(g_rows, dx_rows, n, 1.0 / double(n));
            dx_rows = mul(dx_rows, bin_weights(m, n, 2.0, dt, gy.device()));
            break;
        }
      }
      g.in[0] = from_rows(dx_rows, xshape, l, m, cin);
    });
  }
  return y;
}

}  // namespace

Tensor fft(const Tensor& x, int64_t n, int64_t dim) { return transform(Kind::fft, x, n, dim); }
Tensor ifft(const Tensor& X, int64_t n, int64_t dim) { return transform(Kind::ifft, X, n, dim); }
Tensor rfft(const Tensor& x, int64_t n, int64_t dim) { return transform(Kind::rfft, x, n, dim); }
Tensor irfft(const Tensor& X, int64_t n, int64_t dim) { return transform(Kind::irfft, X, n, dim); }

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/fft.py, torch.fft on
// view_as_complex / view_as_real) ------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

json args(int64_t n, int64_t dim) { return {{"n", n}, {"dim", dim}}; }

Tensors run_kind(Kind kind, const Tensors& in, const json& a) {
  return {transform(kind, in[0], a.at("n").get<int64_t>(), a.at("dim").get<int64_t>())};
}

// Odd, even and prime lengths (37 and 41: Bluestein), padding, truncation, a middle dim, a
// non-contiguous input. Complex inputs carry the trailing 2.
std::vector<Sample> complex_samples(Generator& g) {
  return {
      {"even n 8", {randn(g, {3, 8, 2})}, args(-1, -1)},
      {"odd n 9", {randn(g, {2, 9, 2})}, args(-1, -1)},
      {"prime n 37 (Bluestein)", {randn(g, {2, 37, 2})}, args(-1, -1)},
      {"n 12 zero-padded, dim 0", {randn(g, {7, 3, 2})}, args(12, 0)},
      {"n 5 truncated, middle dim", {randn(g, {2, 8, 3, 2})}, args(5, 1)},
      {"n 1", {randn(g, {2, 4, 2})}, args(1, -1)},
      {"non-contiguous", {noncontig(randn(g, {3, 10, 2}))}, args(-1, 1)},
  };
}

SSM_OP_INFO({.name = "fft",
             .nodes = {OpId::fft},
             .run = [](const Tensors& in, const json& a) { return run_kind(Kind::fft, in, a); },
             .samples = complex_samples,
             .lowp = false});  // float32 / float64 only, as torch.fft

SSM_OP_INFO({.name = "ifft",
             .nodes = {OpId::ifft},
             .run = [](const Tensors& in, const json& a) { return run_kind(Kind::ifft, in, a); },
             .samples = complex_samples,
             .lowp = false});

SSM_OP_INFO({.name = "rfft",
             .nodes = {OpId::rfft},
             .run = [](const Tensors& in, const json& a) { return run_kind(Kind::rfft, in, a); },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"even n 8", {randn(g, {3, 8})}, args(-1, -1)},
                   {"odd n 9", {randn(g, {2, 9})}, args(-1, -1)},
                   {"prime n 41 (Bluestein)", {randn(g, {2, 41})}, args(-1, -1)},
                   {"even n 74 = 2 * 37 (Bluestein half)", {randn(g, {1, 74})}, args(-1, -1)},
                   {"n 12 zero-padded, dim 0", {randn(g, {7, 3})}, args(12, 0)},
                   {"n 5 truncated, middle dim", {randn(g, {2, 8, 3})}, args(5, 1)},
                   {"n 1", {randn(g, {3, 4})}, args(1, -1)},
                   {"n 2", {randn(g, {3, 2})}, args(-1, -1)},
                   {"1-D", {randn(g, {11})}, args(-1, 0)},
                   {"non-contiguous", {noncontig(randn(g, {4, 6}))}, args(-1, -1)},
               };
             },
             .lowp = false});

SSM_OP_INFO({.name = "irfft",
             .nodes = {OpId::irfft},
             .run = [](const Tensors& in, const json& a) { return run_kind(Kind::irfft, in, a); },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"default n 8", {randn(g, {3, 5, 2})}, args(-1, -1)},
                   {"odd n 9", {randn(g, {2, 5, 2})}, args(9, -1)},
                   {"prime n 37 (Bluestein)", {randn(g, {2, 19, 2})}, args(37, -1)},
                   {"even n 74 = 2 * 37 (Bluestein half)", {randn(g, {1, 38, 2})}, args(-1, -1)},
                   {"bins zero-padded, n 16", {randn(g, {2, 4, 2})}, args(16, -1)},
                   {"bins truncated, n 6", {randn(g, {2, 7, 2})}, args(6, -1)},
                   {"n 10, dim 0", {randn(g, {6, 3, 2})}, args(10, 0)},
                   {"n 1", {randn(g, {2, 3, 2})}, args(1, -1)},
                   {"non-contiguous", {noncontig(randn(g, {3, 6, 2}))}, args(-1, 1)},
               };
             },
             .lowp = false});

}  // namespace
}  // namespace testing

}  // namespace ssm
