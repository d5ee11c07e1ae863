// pad, defined once over its kernel tables: every output row along the last dim is filled from
// one input row (or the fill value) through per-dim coordinate maps; the middle of the row is a
// straight copy. At the bottom, the op's test-table entry.
//   pad -> Node "pad": constant:  dx = pad(g, -pads), i.e. the window of g over x (0 where x
//                                 was cropped)
//                      reflect, replicate: dx[i] = sum of g[o] over the outputs o that read x[i],
//                                 one padded dim at a time (scatter_add along that dim)
#include "ops/pad.h"

#include <algorithm>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/index.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

template <int Bytes>
struct Bits {
  unsigned char b[Bytes];
};

// Pads larger than this are certainly mistakes, and keep the size arithmetic far from overflow.
constexpr int64_t kMaxPad = int64_t(1) << 48;

// The input coordinate that output coordinate `o` reads along a dim of size n padded by
// `left` on the left; -1 means the fill value (constant mode only).
int64_t source_of(int64_t o, int64_t n, int64_t left, PadMode mode) {
  int64_t i = o - left;
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::constant: return -1;
    case PadMode::reflect: return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::replicate: return i < 0 ? 0 : n - 1;
  }
  return -1;
}

// Left pad of every dim of x (0 for dims that `pads` does not reach).
std::vector<int64_t> left_pads(const std::vector<int64_t>& pads, int ndim) {
  std::vector<int64_t> left(size_t(ndim), 0);
  for (size_t p = 0; p < pads.size() / 2; ++p) left[size_t(ndim - 1 - int(p))] = pads[2 * p];
  return left;
}

// maps[d][o]: the input coordinate along dim d of output coordinate o (or -1: the fill value).
std::vector<std::vector<int64_t>> coordinate_maps(const Shape& in, const Shape& out,
                                                  const std::vector<int64_t>& left, PadMode mode) {
  std::vector<std::vector<int64_t>> maps(size_t(in.size()));
  for (int d = 0; d < in.size(); ++d) {
    maps[size_t(d)].resize(size_t(out[d]));
    for (int64_t o = 0; o < out[d]; ++o)
      maps[size_t(d)][size_t(o)] = source_of(o, in[d], left[size_t(d)], mode);
  }
  return maps;
}

// out (contiguous, D >= 1 dims) from x through the maps. Rows of out along the last dim are
// split across threads; each row reads one row of x (or is all fill).
template <class E>
void pad_kernel(const Tensor& x, const Tensor& out, const std::vector<std::vector<int64_t>>& maps,
                int64_t left, E fill) {
  int D = x.dim();
  int64_t W = out.shape()[D - 1], n = x.shape()[D - 1], step = x.strides()[D - 1];
  // Along the last dim, out [lo, hi) is x [lo - left, hi - left).
  int64_t lo = std::clamp<int64_t>(left, 0, W), hi = std::clamp<int64_t>(left + n, lo, W);
  const int64_t* last = maps[size_t(D - 1)].data();
  const E* xp = static_cast<const E*>(x.raw_data());
  E* op = static_cast<E*>(out.raw_data());
  Shape oshape = out.shape(), xstrides = x.strides();
  int64_t rows = out.numel() / W;
  parallel_for(0, rows, std::max<int64_t>(1, 32768 / W), [&](int64_t r0, int64_t r1) {
    int64_t idx[kMaxDims] = {};
    int64_t rem = r0;
    for (int k = D - 2; k >= 0; --k) {
      idx[k] = rem % oshape[k];
      rem /= oshape[k];
    }
    for (int64_t r = r0; r < r1; ++r) {
      E* orow = op + r * W;
      int64_t base = 0;
      bool inside = true;
      for (int k = 0; k < D - 1 && inside; ++k) {
        int64_t m = maps[size_t(k)][size_t(idx[k])];
        inside = m >= 0;
        base += m * xstrides[k];
      }
      if (!inside) {
        for (int64_t w = 0; w < W; ++w) orow[w] = fill;
      } else {
        const E* xrow = xp + base;
        for (int64_t w = 0; w < lo; ++w) orow[w] = last[w] < 0 ? fill : xrow[last[w] * step];
        const E* src = xrow + (lo - left) * step;
        if (step == 1) {
          if (hi > lo) std::memcpy(orow + lo, src, size_t(hi - lo) * sizeof(E));
        } else {
          for (int64_t w = lo; w < hi; ++w) orow[w] = src[(w - lo) * step];
        }
        for (int64_t w = hi; w < W; ++w) orow[w] = last[w] < 0 ? fill : xrow[last[w] * step];
      }
      for (int k = D - 2; k >= 0; --k) {
        if (++idx[k] < oshape[k]) break;
        idx[k] = 0;
      }
    }
  });
}

// ---- CPU kernel -----------------------------------------------------------------------------

void cpu_pad(const Tensor& x, const std::vector<int64_t>& left, PadMode mode, const Tensor& fill,
             const Tensor& out) {
  auto maps = coordinate_maps(x.shape(), out.shape(), left, mode);
  auto run = [&](auto tag) {
    using E = decltype(tag);
    pad_kernel<E>(x, out, maps, left.back(), *static_cast<const E*>(fill.raw_data()));
  };
  switch (x.element_size()) {
    case 1: run(Bits<1>{}); break;
    case 2: run(Bits<2>{}); break;
    case 4: run(Bits<4>{}); break;
    case 8: run(Bits<8>{}); break;
    case 16: run(Bits<16>{}); break;
    default: SSM_FAIL("pad: unexpected element size ", x.element_size());
  }
}

const PadKernels kCpuKernels = {all_dtypes, cpu_pad};
SSM_REGISTER_KERNELS(PadKernels, cpu, kCpuKernels);

// ---- the op ---------------------------------------------------------------------------------

// Checks the arguments and returns the output shape.
Shape padded_shape(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  const char* name = pad_mode_name(mode);
  SSM_CHECK(pads.size() % 2 == 0, "pad: pads must hold (left, right) pairs starting from the last "
            "dim, got ", pads.size(), " values");
  int pairs = int(pads.size() / 2);
  SSM_CHECK(pairs <= x.dim(), "pad: ", pairs, " (left, right) pairs for ", describe(x),
            " (expected at most one pair per dim)");
  if (mode != PadMode::constant) {
    SSM_CHECK(value == 0.0, "pad: mode '", name, "' takes no fill value, got ", value);
    SSM_CHECK(pairs >= 1 && pairs <= 3, "pad: mode '", name, "' pads the last 1 to 3 dims, got ",
              pairs, " (left, right) pairs for ", describe(x));
  }
  Shape out = x.shape();
  for (int p = 0; p < pairs; ++p) {
    int d = x.dim() - 1 - p;
    int64_t l = pads[size_t(2 * p)], r = pads[size_t(2 * p + 1)], n = x.shape()[d];
    SSM_CHECK(l > -kMaxPad && l < kMaxPad && r > -kMaxPad && r < kMaxPad, "pad: padding (", l,
              ", ", r, ") of dim ", d, " is out of any sensible range");
    out[d] = n + l + r;
    if (mode == PadMode::constant) {
      SSM_CHECK(out[d] >= 0, "pad: padding (", l, ", ", r, ") of dim ", d, " of size ", n,
                " in ", describe(x), " gives a negative size ", out[d]);
      continue;
    }
    SSM_CHECK(n >= 1, "pad: mode '", name, "' needs a non-empty dim ", d, ", got ", describe(x));
    SSM_CHECK(mode != PadMode::reflect || (l < n && r < n), "pad: reflect padding (", l, ", ", r,
              ") of dim ", d, " must be smaller than its size ", n, " (", describe(x), ")");
    SSM_CHECK(out[d] >= 1, "pad: padding (", l, ", ", r, ") of dim ", d, " of size ", n, " in ",
              describe(x), " leaves size ", out[d], " (mode '", name, "' needs at least 1)");
  }
  return out;
}

Tensor pad_forward(const PadKernels& k, const Tensor& x, const std::vector<int64_t>& pads,
                   PadMode mode, double value, const Shape& shape) {
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (x.dim() == 0) {
    out.copy_(x);
    return out;
  }
  if (out.numel() == 0) return out;
  std::vector<int64_t> left = left_pads(pads, x.dim());
  Tensor fill = Tensor::full(Shape{}, value, x.dtype());
  k.pad(x, left, mode, fill, out);
  return out;
}

// dx for reflect/replicate: for each padded dim d, dx_d[i] = sum of g_d[o] over o with
// map_d(o) == i, taken as a scatter_add along d (deterministic, in order of o).
Tensor fold_back(const Tensor& g, const Shape& in_shape, const std::vector<int64_t>& pads,
                 PadMode mode) {
  int D = in_shape.size();
  std::vector<int64_t> left = left_pads(pads, D);
  Tensor t = g;
  for (size_t p = 0; p < pads.size() / 2; ++p) {
    int d = D - 1 - int(p);
    int64_t n = in_shape[d], len = t.shape()[d];
    std::vector<int64_t> map(static_cast<size_t>(len));
    for (int64_t o = 0; o < len; ++o) map[size_t(o)] = source_of(o, n, left[size_t(d)], mode);
    Tensor index = Tensor::from_vector(map, Shape{len}).to(t.device());
    Shape strides;
    strides.resize(D);
    strides[d] = 1;
    Shape folded = t.shape();
    folded[d] = n;
    t = scatter_add(Tensor::zeros(folded, t.dtype(), t.device()), d,
                    make_view(index, t.shape(), strides, 0), t);
  }
  return t;
}

}  // namespace

PadMode pad_mode(const std::string& name) {
  if (name == "constant") return PadMode::constant;
  if (name == "reflect") return PadMode::reflect;
  if (name == "replicate") return PadMode::replicate;
  SSM_FAIL("pad: unknown mode '", name, "' (expected constant, reflect or replicate)");
}

const char* pad_mode_name(PadMode mode) {
  switch (mode) {
    case PadMode::constant: return "constant";
    case PadMode::reflect: return "reflect";
    case PadMode::replicate: return "replicate";
  }
  return "?";
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  check_defined(x, "pad", "x");
  Shape shape = padded_shape(x, pads, mode, value);
  const PadKernels& k = kernels<PadKernels>("pad", x);
  Tensor out = pad_forward(k, x, pads, mode, value, shape);
  if (needs_grad({x})) {
    Shape in_shape = x.shape();
    record(OpId::pad, {x}, out, [pads, mode, in_shape](Grads& g) {
      if (mode == PadMode::constant) {
        std::vector<int64_t> crop(pads.size());
        for (size_t i = 0; i < pads.size(); ++i) crop[i] = -pads[i];
        g.in[0] = pad(g.out[0], crop);
      } else {
        g.in[0] = fold_back(g.out[0], in_shape, pads, mode);
      }
    });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/pad.py) ---------------------------
// Reflect/replicate shapes carry the leading dims PyTorch demands, so the fixtures can be made.

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "pad",
             .nodes = {OpId::pad},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{pad(in[0], a.at("pads").get<std::vector<int64_t>>(),
                                  pad_mode(a.at("mode").get<std::string>()), a.at("value").get<double>())};
             },
             .samples = [](Generator& g) {
               auto args = [](std::vector<int64_t> pads, const char* mode, double value) {
                 return json{{"pads", pads}, {"mode", mode}, {"value", value}};
               };
               return std::vector<Sample>{
                   {"constant, last dim", {randn(g, {2, 3})}, args({1, 2}, "constant", 0.5)},
                   {"constant, crop and pad", {randn(g, {3, 4, 5})}, args({-1, 2, 1, -2}, "constant", 0.0)},
                   {"constant, all dims, non-contiguous", {noncontig(randn(g, {4, 3}))},
                    args({1, 1, 2, 0}, "constant", -1.0)},
                   {"constant, crop a dim away", {randn(g, {2, 3})}, args({-2, -1}, "constant", 0.0)},
                   {"constant, 0-dim", {randn(g, {})}, args({}, "constant", 0.0)},
                   {"reflect, last dim", {randn(g, {2, 3, 5})}, args({2, 4}, "reflect", 0.0)},
                   {"reflect, 2 dims, non-contiguous", {noncontig(randn(g, {2, 4, 5}))},
                    args({1, 2, 3, 1}, "reflect", 0.0)},
                   {"reflect, 3 dims, crop", {randn(g, {1, 2, 3, 4, 5})},
                    args({2, -1, 1, 1, 2, 0}, "reflect", 0.0)},
                   {"replicate, wider than x", {randn(g, {2, 3, 2})}, args({3, 4}, "replicate", 0.0)},
                   {"replicate, 2 dims, crop", {randn(g, {2, 3, 4})}, args({-1, 2, 2, 1}, "replicate", 0.0)},
                   {"replicate, 3 dims, non-contiguous", {noncontig(randn(g, {1, 2, 2, 3}))},
                    args({1, 1, 1, 0, 0, 2}, "replicate", 0.0)},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
