// Copies, fills and dtype/device conversion. Copies and fills on a CUDA device run the strided
// kernels of core/cuda/copy.cu; host <-> device transfers stage through a contiguous buffer.
#include <complex>
#include <cstring>
#include <limits>

#include "core/autograd.h"
#include "core/convert.h"
#include "core/error.h"
#include "core/strided.h"
#include "core/tensor.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/copy.h"
#include "core/cuda/tensor_arg.h"
#endif

namespace ssm {

namespace {

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

// dst = src converted, real dtypes, same shape, same device.
void convert_real(const Tensor& dst, const Tensor& src) {
#ifdef SSM_WITH_CUDA
  if (dst.device().is_cuda()) {
    cuda::copy(cuda::dims_of(dst.shape()), cuda::arg_of(dst), cuda::arg_of(src));
    return;
  }
#endif
  SSM_DISPATCH_ALL(dst.dtype(), "copy_", [&] {
    using D = scalar_t;
    SSM_DISPATCH_ALL(src.dtype(), "copy_", [&] { convert_loop<D, scalar_t>(dst, src); });
  });
}

// Complex conversions: complex <-> complex of another width, real -> complex (imag = 0).
void convert_complex(const Tensor& dst, const Tensor& src) {
  SSM_CHECK(is_complex(dst.dtype()), "copy_: cannot copy ", src.dtype(), " into ", dst.dtype(),
            " (it would drop the imaginary part; use view_as_real() to take it apart)");
  Tensor dst_re = dst.view_as_real();
  if (is_complex(src.dtype())) {
    Tensor src_re = src.view_as_real();
    convert_real(dst_re, src_re);  // shapes already agree (src was expanded by the caller)
    return;
  }
  // real -> complex: real parts from src, imaginary parts zero.
  Tensor re = dst_re.select(-1, 0), im = dst_re.select(-1, 1);
  im.fill_(0.0);
  convert_real(re, src);
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

// Both on the same CUDA device: any layouts and dtypes.
void copy_device(const Tensor& dst, const Tensor& src) {
  SSM_CHECK(dst.device() == src.device(), "copy_: from ", describe(src), " to ", describe(dst),
            ": copies between two GPUs are not supported; go through the CPU");
  Tensor s = broadcast_to(src, dst.shape());
  if (s.dtype() != dst.dtype() && (is_complex(dst.dtype()) || is_complex(s.dtype())))
    convert_complex(dst, s);
  else
    convert_real(dst, s);
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
    // host -> device: convert and lay out on the host, then one transfer; a non-contiguous
    // destination gets the transfer staged on the device and then a device copy
    if (!dense(*this)) {
      Tensor staged = Tensor::empty(shape(), dtype(), device());
      staged.copy_(src);
      copy_device(*this, staged);
    } else {
      Tensor staged = src.dtype() == dtype() && src.shape() == shape() && dense(src)
                          ? src
                          : Tensor::empty(shape(), dtype()).copy_(src);
      device_mem::copy(raw_data(), device(), staged.raw_data(), staged.device(),
                       size_t(numel()) * element_size());
    }
  } else if (device().is_cpu()) {
    // device -> host: made contiguous on the device, one transfer, then converted on the host
    Tensor dsrc = src;
    if (!dense(src)) {
      dsrc = Tensor::empty(src.shape(), src.dtype(), src.device());
      copy_device(dsrc, src);
    }
    Tensor staged = Tensor::empty(dsrc.shape(), dsrc.dtype());
    device_mem::copy(staged.raw_data(), staged.device(), dsrc.raw_data(), dsrc.device(),
                     size_t(dsrc.numel()) * dsrc.element_size());
    copy_cpu(*this, staged);
  } else {
    copy_device(*this, src);
  }
  ++storage()->version;
  return *this;
}

Tensor& Tensor::fill_(double value) {
  check_defined(*this, "fill_", "self");
  if (device().is_cuda()) {
#ifdef SSM_WITH_CUDA
    cuda::fill(cuda::dims_of(shape()), cuda::arg_of(*this), value);
    ++storage()->version;
    return *this;
#endif
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
  // A leaf (parameter, input) that required grad becomes a new leaf that requires grad on the
  // target device: leaves are moved before the graph is built. A tensor with history is moved
  // differentiably: its gradient is moved back.
  Tensor out = Tensor::empty(shape(), dtype(), target);
  {
    NoGradGuard ng;
    out.copy_(*this);
  }
  if (is_leaf()) {
    if (requires_grad()) out.requires_grad_(true);
  } else {
    Device from = device();
    record(OpId::cast, {*this}, out, [from](Grads& g) { g.in[0] = g.out[0].to(from); });
  }
  return out;
}

}  // namespace ssm
