// gather, index_select, scatter_add: bits-moving gathers, a deterministic scatter, and backward
// written with each other:
//   gather       -> Node "gather":       dx = scatter_add(zeros like x, d, index, g)
//   index_select -> Node "index_select": dx = index_add into zeros, i.e. scatter_add with the
//                                        index broadcast over g's other dims
//   scatter_add  -> Node "scatter_add":  dx = g; dsrc = gather(g, d, index), zeros where src
//                                        reaches beyond index
// Only the index is saved for backward (plus shapes); x and src are not.
#include "ops/index.h"

#include <atomic>
#include <cstring>

#include "core/autograd.h"
#include "core/error.h"
#include "core/strided.h"
#include "ops/along_dim.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

void check_index(const Tensor& x, const Tensor& index, const char* op) {
  check_defined(x, op, "x");
  check_defined(index, op, "index");
  check_same_device(x, index, op);
  SSM_CHECK(is_index(index.dtype()), op, ": index must be an int32 or int64 tensor, got ",
            describe(index));
}

template <int Bytes>
struct Bits {
  unsigned char b[Bytes];
};

// Calls f(E{}) with E a plain type of the element size (gathers move bits, whatever the dtype).
template <class F>
void by_element_size(int64_t size, const F& f) {
  switch (size) {
    case 1: f(Bits<1>{}); break;
    case 2: f(Bits<2>{}); break;
    case 4: f(Bits<4>{}); break;
    case 8: f(Bits<8>{}); break;
    case 16: f(Bits<16>{}); break;
    default: SSM_FAIL("gather: unexpected element size ", size);
  }
}

template <class F>
void by_index_type(DType dt, const F& f) {
  if (dt == DType::i32)
    f(int32_t{});
  else
    f(int64_t{});
}

// Raises the error for the first index (in row-major order) outside [0, bound).
[[noreturn]] void fail_out_of_range(const char* op, const Tensor& index, int d, int64_t bound) {
  std::vector<int64_t> v = index.to_vector<int64_t>();
  for (size_t n = 0; n < v.size(); ++n) {
    if (v[n] >= 0 && v[n] < bound) continue;
    Shape pos;
    pos.resize(index.dim());
    int64_t rem = int64_t(n);
    for (int k = index.dim() - 1; k >= 0; --k) {
      pos[k] = rem % index.shape()[k];
      rem /= index.shape()[k];
    }
    SSM_FAIL(op, ": index ", v[n], " at position ", pos, " of index ", describe(index),
             " is out of range for dim ", d, " of size ", bound, " (expected 0 <= index < ", bound,
             ")");
  }
  SSM_FAIL(op, ": an index is out of range for dim ", d, " of size ", bound);
}

// A view of a 1-D (or 0-dim) index as `shape`, varying along d only (stride 0 elsewhere).
Tensor broadcast_along(const Tensor& index, const Shape& shape, int d) {
  Shape strides;
  strides.resize(shape.size());
  strides[d] = index.dim() == 1 ? index.strides()[0] : 0;
  return make_view(index, shape, strides, index.offset());
}

// ---- CPU kernels ----------------------------------------------------------------------------

// IndexKernels::gather. Out-of-range entries are skipped and reported by returning false, so the
// caller can raise the error outside the parallel region.
bool cpu_gather(const Tensor& out, const Tensor& x, int d, const Tensor& index) {
  Shape x_strides = x.strides();  // x walked over index's shape; dim d is added per element
  x_strides[d] = 0;
  int64_t step = x.strides()[d], bound = x.shape()[d];
  std::atomic<bool> bad{false};
  by_element_size(x.element_size(), [&](auto etag) {
    using E = decltype(etag);
    by_index_type(index.dtype(), [&](auto itag) {
      using I = decltype(itag);
      E* o = static_cast<E*>(out.raw_data());
      const E* xp = static_cast<const E*>(x.raw_data());
      const I* ip = static_cast<const I*>(index.raw_data());
      for_each_strided<3>(index.shape(), {out.strides(), index.strides(), x_strides},
                          [&](const std::array<int64_t, 3>& off, int64_t n,
                              const std::array<int64_t, 3>& st) {
                            E* op = o + off[0];
                            const I* iq = ip + off[1];
                            const E* xq = xp + off[2];
                            if (st[1] == 0) {  // one index for the run: a row copy
                              int64_t k = int64_t(*iq);
                              if (uint64_t(k) >= uint64_t(bound)) {
                                bad.store(true, std::memory_order_relaxed);
                                return;
                              }
                              const E* row = xq + k * step;
                              if (st[0] == 1 && st[2] == 1) {
                                std::memcpy(op, row, size_t(n) * sizeof(E));
                              } else {
                                for (int64_t i = 0; i < n; ++i) op[i * st[0]] = row[i * st[2]];
                              }
                              return;
                            }
                            bool ok = true;
                            for (int64_t i = 0; i < n; ++i) {
                              int64_t k = int64_t(iq[i * st[1]]);
                              if (uint64_t(k) >= uint64_t(bound)) {
                                ok = false;
                                continue;
                              }
                              op[i * st[0]] = xq[i * st[2] + k * step];
                            }
                            if (!ok) bad.store(true, std::memory_order_relaxed);
                          });
    });
  });
  return !bad.load();
}

// out[p with its dim-d coordinate replaced by index[p]] += src[p], for every position p of
// index's shape; src is a view of index's shape. Positions that differ outside dim d never
// write to the same element, so threads split those, and each walks dim d in order: the sums do
// not depend on the thread count. Returns false when an index was out of range (and skipped).
template <class T, class I>
bool scatter_add_kernel(const Tensor& out, int d, const Tensor& index, const Tensor& src) {
  Shape rest = index.shape(), os = out.strides(), is = index.strides(), ss = src.strides();
  rest.erase(d);
  os.erase(d);
  is.erase(d);
  ss.erase(d);
  int64_t steps = index.shape()[d], bound = out.shape()[d];
  int64_t ostep = out.strides()[d], istep = index.strides()[d], sstep = src.strides()[d];
  T* o = static_cast<T*>(out.raw_data());
  const I* ip = static_cast<const I*>(index.raw_data());
  const T* sp = static_cast<const T*>(src.raw_data());
  std::atomic<bool> bad{false};
  for_each_position<3>(rest, {os, is, ss}, steps, [&](const std::array<int64_t, 3>& off, int64_t n,
                                                      const std::array<int64_t, 3>& st) {
    bool ok = true;
    T* oq = o + off[0];
    for (int64_t j = 0; j < steps; ++j) {
      const I* iq = ip + off[1] + j * istep;
      const T* sq = sp + off[2] + j * sstep;
      if (st[1] == 0) {  // one index for the whole run (index_add, as in index_select's backward)
        int64_t k = int64_t(*iq);
        if (uint64_t(k) >= uint64_t(bound)) {
          ok = false;
          continue;
        }
        T* row = oq + k * ostep;
        for (int64_t i = 0; i < n; ++i) row[i * st[0]] += sq[i * st[2]];
      } else {
        for (int64_t i = 0; i < n; ++i) {
          int64_t k = int64_t(iq[i * st[1]]);
          if (uint64_t(k) >= uint64_t(bound)) {
            ok = false;
            continue;
          }
          oq[i * st[0] + k * ostep] += sq[i * st[2]];
        }
      }
    }
    if (!ok) bad.store(true, std::memory_order_relaxed);
  });
  return !bad.load();
}

// Runs the scatter on `acc` (float32, float64, int32 or int64, contiguous, fresh).
bool scatter_add_into(const Tensor& acc, int d, const Tensor& index, const Tensor& src) {
  bool ok = true;
  auto run = [&](auto ttag) {
    using T = decltype(ttag);
    by_index_type(index.dtype(), [&](auto itag) {
      ok = scatter_add_kernel<T, decltype(itag)>(acc, d, index, src);
    });
  };
  switch (acc.dtype()) {
    case DType::f32: run(float{}); break;
    case DType::f64: run(double{}); break;
    case DType::i32: run(int32_t{}); break;
    case DType::i64: run(int64_t{}); break;
    default: SSM_FAIL("scatter_add: no kernel for ", describe(acc));
  }
  return ok;
}

// IndexKernels::scatter_add: x converted into a fresh accumulator, src converted to its dtype,
// the ordered scatter, and the accumulator rounded back for bf16/f16.
bool cpu_scatter_add(const Tensor& x, int d, const Tensor& index, const Tensor& src,
                     DType acc_dtype, Tensor& out) {
  NoGradGuard no_grad;  // the casts below are part of this op, not graph nodes of their own
  Tensor acc = Tensor::empty(x.shape(), acc_dtype, x.device());
  acc.copy_(x);
  Tensor s = src.dtype() == acc_dtype ? src : src.to(acc_dtype);
  if (!scatter_add_into(acc, d, index, make_view(s, index.shape(), s.strides(), s.offset())))
    return false;
  out = acc_dtype == x.dtype() ? acc : acc.to(x.dtype());
  return true;
}

const IndexKernels kCpuKernels = {all_dtypes, cpu_gather, cpu_scatter_add};
SSM_REGISTER_KERNELS(IndexKernels, cpu, kCpuKernels);

}  // namespace

// ---- the ops ------------------------------------------------------------------------------------

Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index(x, index, "gather");
  int d = wrap_dim(dim, x.dim(), "gather");
  if (x.dim() == 0 && index.dim() == 0)
    return gather(x.reshape(Shape{1}), d, index.reshape(Shape{1})).reshape(Shape{});
  SSM_CHECK(index.dim() == x.dim(), "gather: index must have as many dims as x (", x.dim(),
            "), got ", describe(index), " for x ", describe(x));
  for (int k = 0; k < x.dim(); ++k)
    SSM_CHECK(k == d || index.shape()[k] <= x.shape()[k], "gather: index ", describe(index),
              " is larger than x ", describe(x), " in dim ", k, " (expected index.size(k) <= "
              "x.size(k) for every dim k other than dim ", d, ")");
  const IndexKernels& k = kernels<IndexKernels>("gather", x);
  Tensor out = Tensor::empty(index.shape(), x.dtype(), x.device());
  if (!k.gather(out, x, d, index)) fail_out_of_range("gather", index, d, x.shape()[d]);
  // dx = scatter_add(zeros like x, d, index, g): each read of x[..] receives its g back.
  if (needs_grad({x})) {
    Saved si(index);
    Shape x_shape = x.shape();
    record(OpId::gather, {x}, out, [si, d, x_shape](Grads& g) {
      const Tensor& gy = g.out[0];
      g.in[0] = scatter_add(Tensor::zeros(x_shape, gy.dtype(), gy.device()), d, si.get(), gy);
    });
  }
  return out;
}

Tensor index_select(const Tensor& x, int64_t dim, const Tensor& index) {
  check_index(x, index, "index_select");
  SSM_CHECK(index.dim() <= 1, "index_select: index must be 1-D (or 0-dim), got ",
            describe(index));
  int d = wrap_dim(dim, x.dim(), "index_select");
  if (x.dim() == 0) {
    SSM_CHECK(index.numel() == 1, "index_select: a 0-dim x takes exactly one index, got ",
              describe(index));
    return index_select(x.reshape(Shape{1}), 0, index).reshape(Shape{});
  }
  Shape shape = x.shape();
  shape[d] = index.numel();
  const IndexKernels& k = kernels<IndexKernels>("index_select", x);
  Tensor out = Tensor::empty(shape, x.dtype(), x.device());
  if (!k.gather(out, x, d, broadcast_along(index, shape, d)))
    fail_out_of_range("index_select", index, d, x.shape()[d]);
  // dx = index_add(zeros like x, d, index, g): row i of g goes back to row index[i] of x.
  if (needs_grad({x})) {
    Saved si(index);
    Shape x_shape = x.shape();
    record(OpId::index_select, {x}, out, [si, d, x_shape](Grads& g) {
      const Tensor& gy = g.out[0];
      g.in[0] = scatter_add(Tensor::zeros(x_shape, gy.dtype(), gy.device()), d,
                            broadcast_along(si.get(), gy.shape(), d), gy);
    });
  }
  return out;
}

Tensor scatter_add(const Tensor& x, int64_t dim, const Tensor& index, const Tensor& src) {
  check_index(x, index, "scatter_add");
  check_defined(src, "scatter_add", "src");
  check_same_device(x, src, "scatter_add");
  SSM_CHECK(src.dtype() == x.dtype(), "scatter_add: src has dtype ", src.dtype(), " but x has ",
            x.dtype(), " (", describe(src), " vs ", describe(x), "); convert with .to() first");
  SSM_CHECK(is_floating(x.dtype()) || is_index(x.dtype()),
            "scatter_add: expects a floating, int32 or int64 x, got ", describe(x));
  int d = wrap_dim(dim, x.dim(), "scatter_add");
  if (x.dim() == 0 && index.dim() == 0 && src.dim() == 0)
    return scatter_add(x.reshape(Shape{1}), d, index.reshape(Shape{1}), src.reshape(Shape{1}))
        .reshape(Shape{});
  SSM_CHECK(index.dim() == x.dim() && src.dim() == x.dim(),
            "scatter_add: x, index and src must have the same number of dims, got x ", describe(x),
            ", index ", describe(index), ", src ", describe(src));
  for (int k = 0; k < x.dim(); ++k)
    SSM_CHECK(index.shape()[k] <= src.shape()[k] && (k == d || index.shape()[k] <= x.shape()[k]),
              "scatter_add: index ", describe(index), " is larger than src ", describe(src),
              " or x ", describe(x), " in dim ", k, " (expected index no larger than src in any "
              "dim and no larger than x in every dim other than dim ", d, ")");
  // bf16/f16 sums are accumulated in float32 and rounded once at the end.
  DType acc_dtype = is_floating(x.dtype()) ? compute_dtype(x.dtype()) : x.dtype();
  const IndexKernels& k = kernels<IndexKernels>("scatter_add", x);
  Tensor out;
  if (!k.scatter_add(x, d, index, src, acc_dtype, out))
    fail_out_of_range("scatter_add", index, d, x.shape()[d]);
  // dx = g; dsrc = gather(g, d, index) where index reaches, 0 elsewhere.
  if (needs_grad({x, src})) {
    Saved si(index);
    Shape src_shape = src.shape();
    record(OpId::scatter_add, {x, src}, out, [si, d, src_shape, &k](Grads& g) {
      const Tensor& gy = g.out[0];
      if (g.needs(0)) g.in[0] = gy;
      if (g.needs(1)) {
        const Tensor& index = si.get();
        if (index.shape() == src_shape) {
          g.in[1] = gather(gy, d, index);
        } else {
          // Gathered straight into src's window over index; zeros beyond it.
          Tensor ds = Tensor::zeros(src_shape, gy.dtype(), gy.device());
          if (!k.gather(make_view(ds, index.shape(), ds.strides(), 0), gy, d, index))
            fail_out_of_range("scatter_add", index, d, gy.shape()[d]);
          g.in[1] = ds;
        }
      }
    });
  }
  return out;
}

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/index.py). Indices hold repeats,
// so the backward sums of gather/index_select are exercised. -------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

int64_t dim_arg(const json& a) { return a.at("dim").get<int64_t>(); }

Tensor indices(Generator& g, const Shape& shape, int64_t bound, DType dt = DType::i64) {
  return Tensor::randint(shape, 0, bound, dt, &g);
}

SSM_OP_INFO({.name = "gather",
             .nodes = {OpId::gather},
             .run = [](const Tensors& in, const json& a) { return Tensors{gather(in[0], dim_arg(a), in[1])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0, index longer than x", {randn(g, {3, 4}), indices(g, {5, 4}, 3)}, {{"dim", 0}}},
                   {"index smaller than x", {randn(g, {3, 5}), indices(g, {2, 3}, 5)}, {{"dim", 1}}},
                   {"3-d, negative dim", {randn(g, {2, 3, 4}), indices(g, {2, 3, 6}, 4)}, {{"dim", -1}}},
                   {"non-contiguous, int32 index",
                    {noncontig(randn(g, {4, 3})), noncontig(indices(g, {4, 3}, 4, DType::i32))},
                    {{"dim", 0}}},
                   {"0-dim", {randn(g, {}), Tensor::scalar(0, DType::i64)}, {{"dim", 0}}},
               };
             }});

SSM_OP_INFO({.name = "index_select",
             .nodes = {OpId::index_select},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{index_select(in[0], dim_arg(a), in[1])};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0, repeats",
                    {randn(g, {4, 3}), Tensor::from_vector(std::vector<int64_t>{3, 0, 3, 1, 1}, {5})},
                    {{"dim", 0}}},
                   {"middle dim, int32 index",
                    {randn(g, {2, 5, 3}), Tensor::from_vector(std::vector<int32_t>{4, 0, 2, 4}, {4})},
                    {{"dim", 1}}},
                   {"non-contiguous x and index",
                    {noncontig(randn(g, {3, 4})), noncontig(indices(g, {6}, 4))}, {{"dim", -1}}},
                   {"0-dim index", {randn(g, {3, 4}), Tensor::scalar(2, DType::i64)}, {{"dim", 1}}},
               };
             }});

SSM_OP_INFO({.name = "scatter_add",
             .nodes = {OpId::scatter_add},
             .run = [](const Tensors& in, const json& a) {
               return Tensors{scatter_add(in[0], dim_arg(a), in[1], in[2])};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0, collisions", {randn(g, {3, 4}), indices(g, {5, 4}, 3), randn(g, {5, 4})},
                    {{"dim", 0}}},
                   {"src larger than index",
                    {randn(g, {3, 5}), indices(g, {2, 3}, 5), randn(g, {4, 4})}, {{"dim", 1}}},
                   {"non-contiguous, int32 index, negative dim",
                    {noncontig(randn(g, {4, 3})), noncontig(indices(g, {4, 3}, 3, DType::i32)),
                     noncontig(randn(g, {4, 3}))},
                    {{"dim", -1}}},
                   {"0-dim", {randn(g, {}), Tensor::scalar(0, DType::i64), randn(g, {})}, {{"dim", 0}}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
