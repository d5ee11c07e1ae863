// Views: new geometry over the same storage, each differentiable.
//
//   view / reshape / flatten / squeeze / unsqueeze -> Node "view":    dx = reshape(dy, x.shape)
//   permute / transpose / t                       -> Node "permute": dx = permute(dy, inverse)
//   narrow / slice / select                       -> Node "narrow":  dx = zeros, window = dy
//   expand                                        -> Node "expand":  dx = sum_to(dy, x.shape)
//   view_as_real / view_as_complex                -> their inverse view
#include "core/autograd.h"
#include "core/error.h"
#include "core/reduce_to.h"
#include "core/tensor.h"

namespace ssm {

namespace {

// Fills in one -1 and checks the element count.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      SSM_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape);
      infer = i;
    } else {
      SSM_CHECK(out[i] >= 0, op, ": invalid size ", out[i], " in shape ", shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    SSM_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape,
              " is invalid for a tensor of shape ", from, " (", numel, " elements)");
    out[infer] = numel / known;
  }
  SSM_CHECK(out.numel() == numel, op, ": shape ", out, " is invalid for a tensor of shape ", from,
            " (", numel, " elements)");
  return out;
}

// Strides for viewing (shape, strides) as `target` without a copy, or false when impossible.
// Old dims are taken from the innermost outwards in chunks whose elements are evenly spaced;
// each chunk must be exactly covered by consecutive target dims.
bool view_strides(const Shape& shape, const Shape& strides, const Shape& target, Shape& out) {
  out.resize(target.size());
  if (shape.numel() == 0 || shape.size() == 0) {
    out = contiguous_strides(target);
    return true;
  }
  int view_d = target.size() - 1;
  int64_t chunk_stride = strides[shape.size() - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int d = shape.size() - 1; d >= 0; --d) {
    tensor_numel *= shape[d];
    bool chunk_ends = d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tensor_numel * chunk_stride);
    if (!chunk_ends) continue;
    while (view_d >= 0 && (view_numel < tensor_numel || target[view_d] == 1)) {
      out[view_d] = view_numel * chunk_stride;
      view_numel *= target[view_d];
      --view_d;
    }
    if (view_numel != tensor_numel) return false;
    if (d > 0) {
      chunk_stride = strides[d - 1];
      tensor_numel = view_numel = 1;
    }
  }
  return view_d == -1;
}

Tensor record_view(Tensor out, const Tensor& x) {
  Shape in_shape = x.shape();
  record(OpId::view, {x}, out, [in_shape](Grads& g) { g.in[0] = g.out[0].reshape(in_shape); });
  return out;
}

}  // namespace

Tensor Tensor::view(const Shape& shape_in) const {
  check_defined(*this, "view", "self");
  Shape target = infer_shape(shape_in, numel(), "view", shape());
  Shape st;
  SSM_CHECK(view_strides(shape(), strides(), target, st), "view: shape ", target,
            " is not compatible with the strides of ", describe(*this),
            "; use reshape() (which copies) or contiguous() first");
  return record_view(make_view(*this, target, st, offset()), *this);
}

Tensor Tensor::reshape(const Shape& shape_in) const {
  check_defined(*this, "reshape", "self");
  Shape target = infer_shape(shape_in, numel(), "reshape", shape());
  Shape st;
  if (view_strides(shape(), strides(), target, st))
    return record_view(make_view(*this, target, st, offset()), *this);
  return contiguous().view(target);
}

Tensor Tensor::flatten(int64_t start, int64_t end) const {
  int s = wrap_dim(start, dim(), "flatten"), e = wrap_dim(end, dim(), "flatten");
  if (dim() == 0) return reshape(Shape{1});
  SSM_CHECK(s <= e, "flatten: start dim ", start, " comes after end dim ", end);
  Shape target;
  for (int i = 0; i < s; ++i) target.push_back(shape()[i]);
  int64_t n = 1;
  for (int i = s; i <= e; ++i) n *= shape()[i];
  target.push_back(n);
  for (int i = e + 1; i < dim(); ++i) target.push_back(shape()[i]);
  return reshape(target);
}

Tensor Tensor::squeeze(int64_t d) const {
  int w = wrap_dim(d, dim(), "squeeze");
  if (dim() == 0 || shape()[w] != 1) return *this;
  Shape s = shape(), st = strides();
  s.erase(w);
  st.erase(w);
  return record_view(make_view(*this, s, st, offset()), *this);
}

Tensor Tensor::unsqueeze(int64_t d) const {
  int w = wrap_dim(d, dim() + 1, "unsqueeze");
  Shape s = shape(), st = strides();
  int64_t stride = w < dim() ? strides()[w] * shape()[w] : 1;
  s.insert(w, 1);
  st.insert(w, stride);
  return record_view(make_view(*this, s, st, offset()), *this);
}

Tensor Tensor::permute(const Shape& dims) const {
  check_defined(*this, "permute", "self");
  SSM_CHECK(dims.size() == dim(), "permute: got ", dims.size(), " dims for a ", dim(),
            "-dim tensor");
  Shape s, st, inverse;
  inverse.resize(dim());
  uint32_t seen = 0;
  for (int i = 0; i < dims.size(); ++i) {
    int d = wrap_dim(dims[i], dim(), "permute");
    SSM_CHECK(!(seen >> d & 1u), "permute: dim ", d, " appears twice in ", dims);
    seen |= 1u << d;
    s.push_back(shape()[d]);
    st.push_back(strides()[d]);
    inverse[d] = i;
  }
  Tensor out = make_view(*this, s, st, offset());
  record(OpId::permute, {*this}, out, [inverse](Grads& g) { g.in[0] = g.out[0].permute(inverse); });
  return out;
}

Tensor Tensor::transpose(int64_t a, int64_t b) const {
  int x = wrap_dim(a, dim(), "transpose"), y = wrap_dim(b, dim(), "transpose");
  Shape perm;
  for (int i = 0; i < dim(); ++i) perm.push_back(i);
  std::swap(perm[x], perm[y]);
  return permute(perm);
}

Tensor Tensor::t() const {
  SSM_CHECK(dim() == 2, "t: expects a 2-D tensor, got ", describe(*this));
  return transpose(0, 1);
}

Tensor Tensor::narrow(int64_t d, int64_t start, int64_t length) const {
  int w = wrap_dim(d, dim(), "narrow");
  SSM_CHECK(dim() > 0, "narrow: cannot narrow a 0-dim tensor");
  int64_t n = shape()[w];
  if (start < 0) start += n;
  SSM_CHECK(start >= 0 && length >= 0 && start + length <= n, "narrow: window [", start, ", ",
            start + length, ") does not fit dim ", w, " of size ", n);
  return slice(w, start, start + length, 1);
}

Tensor Tensor::slice(int64_t d, int64_t start, int64_t end, int64_t step) const {
  check_defined(*this, "slice", "self");
  SSM_CHECK(dim() > 0, "slice: cannot slice a 0-dim tensor");
  int w = wrap_dim(d, dim(), "slice");
  SSM_CHECK(step > 0, "slice: step must be positive, got ", step);
  int64_t n = shape()[w];
  if (start < 0) start += n;
  if (end < 0) end += n;
  start = std::clamp<int64_t>(start, 0, n);
  end = std::clamp<int64_t>(end, start, n);
  int64_t len = (end - start + step - 1) / step;
  Shape s = shape(), st = strides();
  s[w] = len;
  st[w] = strides()[w] * step;
  Tensor out = make_view(*this, s, st, offset() + start * strides()[w]);
  Shape in_shape = shape();
  record(OpId::narrow, {*this}, out, [in_shape, w, start, end, step](Grads& g) {
    Tensor dx = Tensor::zeros(in_shape, g.out[0].dtype(), g.out[0].device());
    dx.slice(w, start, end, step).copy_(g.out[0]);
    g.in[0] = dx;
  });
  return out;
}

Tensor Tensor::select(int64_t d, int64_t index) const {
  int w = wrap_dim(d, dim(), "select");
  int64_t n = shape()[w];
  SSM_CHECK(index >= -n && index < n, "select: index ", index, " is out of range for dim ", w,
            " of size ", n);
  if (index < 0) index += n;
  return narrow(w, index, 1).squeeze(w);
}

Tensor Tensor::expand(const Shape& target_in) const {
  check_defined(*this, "expand", "self");
  SSM_CHECK(target_in.size() >= dim(), "expand: target ", target_in, " has fewer dims than ",
            describe(*this));
  Shape target = target_in, st;
  st.resize(target.size());
  int lead = target.size() - dim();
  for (int i = 0; i < target.size(); ++i) {
    int j = i - lead;
    if (j < 0) {
      SSM_CHECK(target[i] >= 0, "expand: new leading dims need an explicit size, got ", target_in);
      st[i] = 0;
      continue;
    }
    if (target[i] == -1) target[i] = shape()[j];
    SSM_CHECK(target[i] == shape()[j] || shape()[j] == 1, "expand: cannot expand ", describe(*this),
              " to ", target_in, " (dim ", i, ": ", shape()[j], " vs ", target[i], ")");
    st[i] = shape()[j] == target[i] ? strides()[j] : 0;
  }
  if (target == shape()) return *this;
  Tensor out = make_view(*this, target, st, offset());
  Shape in_shape = shape();
  record(OpId::expand, {*this}, out, [in_shape](Grads& g) { g.in[0] = sum_to(g.out[0], in_shape); });
  return out;
}

Tensor Tensor::view_as_real() const {
  check_defined(*this, "view_as_real", "self");
  SSM_CHECK(is_complex(dtype()), "view_as_real: expects a complex tensor, got ", describe(*this));
  Shape s = shape(), st;
  s.push_back(2);
  for (int64_t v : strides()) st.push_back(v * 2);
  st.push_back(1);
  DType real = dtype() == DType::c64 ? DType::f32 : DType::f64;
  Tensor out = make_view(*this, s, st, offset() * 2, real);
  record(OpId::view_as_real, {*this}, out,
         [](Grads& g) { g.in[0] = g.out[0].contiguous().view_as_complex(); });
  return out;
}

Tensor Tensor::view_as_complex() const {
  check_defined(*this, "view_as_complex", "self");
  SSM_CHECK(dtype() == DType::f32 || dtype() == DType::f64,
            "view_as_complex: expects float32 or float64, got ", describe(*this));
  SSM_CHECK(dim() >= 1 && shape().back() == 2 && strides().back() == 1,
            "view_as_complex: expects a last dim of size 2 with stride 1, got ", describe(*this),
            " with strides ", strides());
  Shape s = shape(), st = strides();
  s.erase(s.size() - 1);
  st.erase(st.size() - 1);
  for (int64_t& v : st) {
    SSM_CHECK(v % 2 == 0, "view_as_complex: strides ", strides(), " are not even");
    v /= 2;
  }
  SSM_CHECK(offset() % 2 == 0, "view_as_complex: storage offset ", offset(), " is not even");
  DType cplx = dtype() == DType::f32 ? DType::c64 : DType::c128;
  Tensor out = make_view(*this, s, st, offset() / 2, cplx);
  record(OpId::view_as_complex, {*this}, out, [](Grads& g) { g.in[0] = g.out[0].view_as_real(); });
  return out;
}

}  // namespace ssm
