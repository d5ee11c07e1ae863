// Copies, fills and dtype/device conversion.
#include <complex>
#include <cstring>
#include <limits>

#include "core/autograd.h"
#include "core/error.h"
#include "core/strided.h"
#include "core/tensor.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/runtime.h"
#endif

namespace ssm {

namespace {

// Value conversion between storage types, through each side's compute type. Float to integer
// conversions saturate and send NaN to 0 instead of invoking undefined behaviour.
template <class D, class S>
D convert(S v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else if constexpr (std::is_same_v<D, bool>) {
    return Scalar<S>::load(v) != acc_t<S>(0);
  } else if constexpr (std::is_integral_v<D> && !std::is_integral_v<acc_t<S>>) {
    double x = double(Scalar<S>::load(v));
    if (x != x) return D(0);
    if (x <= double(std::numeric_limits<D>::min())) return std::numeric_limits<D>::min();
    if (x >= double(std::numeric_limits<D>::max())) return std::numeric_limits<D>::max();
    return D(x);
  } else {
    return Scalar<D>::store(static_cast<acc_t<D>>(Scalar<S>::load(v)));
  }
}

template <int Bytes>
struct Bits {
  unsigned char b[Bytes];
};

// Strided copy of same-typed elements, moving bits only.
void copy_same(const Tensor& dst, const Tensor& src_expanded) {
  auto run = [&](auto tag) {
    using E = decltype(tag);
    E* d = static_cast<E*>(dst.raw_data());
    const E* s = static_cast<const E*>(src_expanded.raw_data());
    for_each_strided<2>(dst.shape(), {dst.strides(), src_expanded.strides()},
                        [&](const std::array<int64_t, 2>& off, int64_t n,
                            const std::array<int64_t, 2>& st) {
                          E* dp = d + off[0];
                          const E* sp = s + off[1];
                          if (st[0] == 1 && st[1] == 1) {
                            std::memcpy(dp, sp, size_t(n) * sizeof(E));
                          } else {
                            for (int64_t i = 0; i < n; ++i) dp[i * st[0]] = sp[i * st[1]];
                          }
                        });
  };
  switch (dst.element_size()) {
    case 1: run(Bits<1>{}); break;
    case 2: run(Bits<2>{}); break;
    case 4: run(Bits<4>{}); break;
    case 8: run(Bits<8>{}); break;
    case 16: run(Bits<16>{}); break;
    default: SSM_FAIL("copy_: unexpected element size ", dst.element_size());
  }
}

template <class D, class S>
void convert_loop(const Tensor& dst, const Tensor& src) {
  D* d = static_cast<D*>(dst.raw_data());
  const S* s = static_cast<const S*>(src.raw_data());
  for_each_strided<2>(dst.shape(), {dst.strides(), src.strides()},
                      [&](const std::array<int64_t, 2>& off, int64_t n,
                          const std::array<int64_t, 2>& st) {
                        D* dp = d + off[0];
                        const S* sp = s + off[1];
                        if (st[0] == 1 && st[1] == 1) {
                          for (int64_t i = 0; i < n; ++i) dp[i] = convert<D, S>(sp[i]);
                        } else {
                          for (int64_t i = 0; i < n; ++i)
                            dp[i * st[0]] = convert<D, S>(sp[i * st[1]]);
                        }
                      });
}

// Complex conversions: complex <-> complex of another width, real -> complex (imag = 0).
void convert_complex(const Tensor& dst, const Tensor& src) {
  SSM_CHECK(is_complex(dst.dtype()), "copy_: cannot copy ", src.dtype(), " into ", dst.dtype(),
            " (it would drop the imaginary part; use view_as_real() to take it apart)");
  Tensor dst_re = dst.view_as_real();
  if (is_complex(src.dtype())) {
    Tensor src_re = src.view_as_real();
    Tensor expanded = src_re;  // shapes already agree (src was expanded by the caller)
    SSM_DISPATCH_FLOAT(dst_re.dtype(), "copy_", [&] {
      using D = scalar_t;
      SSM_DISPATCH_FLOAT(src_re.dtype(), "copy_", [&] { convert_loop<D, scalar_t>(dst_re, expanded); });
    });
    return;
  }
  // real -> complex: real parts from src, imaginary parts zero.
  Tensor re = dst_re.select(-1, 0), im = dst_re.select(-1, 1);
  im.fill_(0.0);
  SSM_DISPATCH_FLOAT(re.dtype(), "copy_", [&] {
    using D = scalar_t;
    SSM_DISPATCH_ALL(src.dtype(), "copy_", [&] { convert_loop<D, scalar_t>(re, src); });
  });
}

// Broadcasts `src` to `shape` (stride 0 on new or size-1 dims) without autograd.
Tensor broadcast_to(const Tensor& src, const Shape& shape) {
  if (src.shape() == shape) return src;
  Shape target = broadcast_shapes(src.shape(), shape, "copy_");
  SSM_CHECK(target == shape, "copy_: source of shape ", src.shape(),
            " cannot be broadcast to destination shape ", shape);
  Shape strides;
  strides.resize(shape.size());
  int lead = shape.size() - src.dim();
  for (int i = 0; i < shape.size(); ++i) {
    int j = i - lead;
    strides[i] = (j < 0 || src.shape()[j] == 1) ? 0 : src.strides()[j];
  }
  return make_view(src, shape, strides, src.offset());
}

void copy_cpu(const Tensor& dst, const Tensor& src) {
  Tensor s = broadcast_to(src, dst.shape());
  if (s.dtype() == dst.dtype()) {
    copy_same(dst, s);
  } else if (is_complex(dst.dtype()) || is_complex(s.dtype())) {
    convert_complex(dst, s);
  } else {
    SSM_DISPATCH_ALL(dst.dtype(), "copy_", [&] {
      using D = scalar_t;
      SSM_DISPATCH_ALL(s.dtype(), "copy_", [&] { convert_loop<D, scalar_t>(dst, s); });
    });
  }
}

// Does `t` cover a dense, non-overlapping byte range starting at raw_data() in row-major order?
bool dense(const Tensor& t) { return t.is_contiguous(); }

}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check_defined(*this, "copy_", "self");
  check_defined(src, "copy_", "src");
  if (device().is_cpu() && src.device().is_cpu()) {
    copy_cpu(*this, src);
  } else if (src.device().is_cpu()) {
    // host -> device: convert and lay out on the host, then one transfer
    Tensor staged = src.dtype() == dtype() && src.shape() == shape() && dense(src)
                        ? src
                        : Tensor::empty(shape(), dtype()).copy_(src);
    SSM_CHECK(dense(*this), "copy_: writing into a non-contiguous ", describe(*this),
              " from the CPU needs the CUDA copy kernel; copy into a contiguous tensor instead");
    device_mem::copy(raw_data(), device(), staged.raw_data(), staged.device(),
                     size_t(numel()) * element_size());
  } else if (device().is_cpu()) {
    // device -> host: one transfer of the source as it is, then convert on the host
    SSM_CHECK(dense(src), "copy_: reading a non-contiguous ", describe(src),
              " to the CPU needs the CUDA copy kernel; call contiguous() on the device first");
    Tensor staged = Tensor::empty(src.shape(), src.dtype());
    device_mem::copy(staged.raw_data(), staged.device(), src.raw_data(), src.device(),
                     size_t(src.numel()) * src.element_size());
    copy_cpu(*this, staged);
  } else {
    SSM_CHECK(dense(src) && dense(*this) && src.dtype() == dtype() && src.shape() == shape(),
              "copy_: device-to-device copy from ", describe(src), " to ", describe(*this),
              " with a dtype, layout or shape change needs the CUDA copy kernel");
    device_mem::copy(raw_data(), device(), src.raw_data(), src.device(),
                     size_t(numel()) * element_size());
  }
  ++storage()->version;
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_defined(*this, "fill_", "self");
  if (device().is_cuda()) {
    // Fill one element on the host, then broadcast-copy it (contiguous targets only for now).
    Tensor one = Tensor::full(Shape{}, value, dtype());
    if (value == 0.0 && is_contiguous()) {
#ifdef SSM_WITH_CUDA
      cuda::fill_bytes(raw_data(), 0, size_t(numel()) * element_size());
      ++storage()->version;
      return *this;
#endif
    }
    Tensor host = Tensor::empty(shape(), dtype()).copy_(one);
    return copy_(host);
  }
  if (is_complex(dtype())) {
    Tensor r = view_as_real();
    r.select(-1, 0).fill_(value);
    r.select(-1, 1).fill_(0.0);
    return *this;
  }
  SSM_DISPATCH_ALL(dtype(), "fill_", [&] {
    scalar_t v = convert<scalar_t, double>(value);
    scalar_t* p = static_cast<scalar_t*>(raw_data());
    for_each_strided<1>(shape(), {strides()},
                        [&](const std::array<int64_t, 1>& off, int64_t n,
                            const std::array<int64_t, 1>& st) {
                          scalar_t* q = p + off[0];
                          for (int64_t i = 0; i < n; ++i) q[i * st[0]] = v;
                        });
  });
  ++storage()->version;
  return *this;
}

Tensor Tensor::clone() const {
  check_defined(*this, "clone", "self");
  Tensor out = Tensor::empty(shape(), dtype(), device());
  {
    NoGradGuard ng;
    out.copy_(*this);
  }
  record(OpId::clone, {*this}, out, [](Grads& g) { g.in[0] = g.out[0]; });
  return out;
}

Tensor Tensor::contiguous() const {
  check_defined(*this, "contiguous", "self");
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::to(DType target) const {
  check_defined(*this, "to", "self");
  if (target == dtype()) return *this;
  Tensor out = Tensor::empty(shape(), target, device());
  {
    NoGradGuard ng;
    out.copy_(*this);
  }
  if (is_floating(dtype()) && is_floating(target)) {
    DType from = dtype();
    record(OpId::cast, {*this}, out, [from](Grads& g) { g.in[0] = g.out[0].to(from); });
  }
  return out;
}

Tensor Tensor::to(Device target) const {
  check_defined(*this, "to", "self");
  if (target == device()) return *this;
  // Device moves are not recorded in the graph: leaves (parameters, inputs) are moved before the
  // graph is built, and a moved leaf that required grad is a new leaf that requires grad.
  SSM_CHECK(!(grad_enabled() && requires_grad() && !is_leaf()),
            "to(", target, "): moving a tensor with autograd history between devices is not "
            "differentiable; move the inputs before computing, or detach() first");
  Tensor out = Tensor::empty(shape(), dtype(), target);
  {
    NoGradGuard ng;
    out.copy_(contiguous());
  }
  if (requires_grad()) out.requires_grad_(true);
  return out;
}

}  // namespace ssm
