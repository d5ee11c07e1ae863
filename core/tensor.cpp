#include "core/tensor.h"

#include <sstream>

#include "core/autograd.h"
#include "core/error.h"

namespace ssm {

TensorImpl::TensorImpl() = default;
TensorImpl::~TensorImpl() = default;

// ---- factories ------------------------------------------------------------------------------

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t d : shape)
    SSM_CHECK(d >= 0, "empty: negative size in shape ", shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = Storage::allocate(size_t(shape.numel()) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(0.0);
  return t;
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
  return full(shape, 1.0, dtype, device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, device);
  t.fill_(value);
  return t;
}

Tensor Tensor::scalar(double value, DType dtype, Device device) {
  return full(Shape{}, value, dtype, device);
}

Tensor Tensor::arange(int64_t n, DType dtype, Device device) {
  SSM_CHECK(n >= 0, "arange: n must be >= 0, got ", n);
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[size_t(i)] = double(i);
  return from_vector(v, Shape{n}).to(dtype).to(device);
}

template <class T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  SSM_CHECK(int64_t(values.size()) == shape.numel(), "from_vector: ", values.size(),
            " values do not fill shape ", shape, " (", shape.numel(), " elements)");
  if constexpr (std::is_same_v<T, bool>) {
    Tensor t = empty(shape, DType::b8);
    bool* p = t.data<bool>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = values[i];
    return t;
  } else {
    Tensor t = empty(shape, dtype_of<T>());
    std::copy(values.begin(), values.end(), t.data<T>());
    return t;
  }
}
template Tensor Tensor::from_vector(const std::vector<float>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<double>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int32_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<int64_t>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<bool>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<bf16>&, const Shape&);
template Tensor Tensor::from_vector(const std::vector<f16>&, const Shape&);

Tensor Tensor::from_complex(const std::vector<std::complex<double>>& values, const Shape& shape,
                            DType dtype) {
  SSM_CHECK(is_complex(dtype), "from_complex: dtype must be complex64 or complex128, got ", dtype);
  SSM_CHECK(int64_t(values.size()) == shape.numel(), "from_complex: ", values.size(),
            " values do not fill shape ", shape);
  Tensor t = empty(shape, DType::c128);
  std::copy(values.begin(), values.end(), static_cast<std::complex<double>*>(t.raw_data()));
  return dtype == DType::c128 ? t : t.to(dtype);
}

// ---- metadata -------------------------------------------------------------------------------

int64_t Tensor::size(int64_t d) const { return shape()[wrap_dim(d, dim(), "size")]; }
int64_t Tensor::stride(int64_t d) const { return strides()[wrap_dim(d, dim(), "stride")]; }

bool Tensor::is_contiguous() const {
  if (numel() == 0) return true;
  int64_t expected = 1;
  for (int i = dim() - 1; i >= 0; --i) {
    if (shape()[i] == 1) continue;
    if (strides()[i] != expected) return false;
    expected *= shape()[i];
  }
  return true;
}

template <class T>
T* Tensor::data() const {
  constexpr DType want = dtype_of<T>();
  SSM_CHECK(dtype() == want, "data<", dtype_name(want), ">() called on a ", dtype(), " tensor");
  return static_cast<T*>(raw_data());
}
template float* Tensor::data<float>() const;
template double* Tensor::data<double>() const;
template bf16* Tensor::data<bf16>() const;
template f16* Tensor::data<f16>() const;
template int32_t* Tensor::data<int32_t>() const;
template int64_t* Tensor::data<int64_t>() const;
template bool* Tensor::data<bool>() const;

template <class T>
std::vector<T> Tensor::to_vector() const {
  SSM_CHECK(defined(), "to_vector: tensor is undefined");
  Tensor c = cpu().to(dtype_of<T>()).contiguous();
  const T* p = c.data<T>();
  return std::vector<T>(p, p + c.numel());
}
template std::vector<float> Tensor::to_vector() const;
template std::vector<double> Tensor::to_vector() const;
template std::vector<int32_t> Tensor::to_vector() const;
template std::vector<int64_t> Tensor::to_vector() const;

template <class T>
T Tensor::item() const {
  SSM_CHECK(defined() && numel() == 1, "item: expected a tensor with one element, got ",
            defined() ? describe(*this) : std::string("an undefined tensor"));
  return to_vector<T>()[0];
}
template float Tensor::item() const;
template double Tensor::item() const;
template int32_t Tensor::item() const;
template int64_t Tensor::item() const;

double Tensor::at(std::initializer_list<int64_t> index) const {
  SSM_CHECK(int(index.size()) == dim(), "at: ", index.size(), " indices for a ", dim(),
            "-dim tensor");
  Tensor v = *this;
  int d = 0;
  for (int64_t i : index) {
    SSM_CHECK(i >= 0 && i < shape()[d], "at: index ", i, " out of range for dim ", d, " of size ",
              shape()[d]);
    v = v.narrow(0, i, 1).squeeze(0);
    ++d;
  }
  return v.item<double>();
}

// ---- autograd accessors ---------------------------------------------------------------------

namespace {
AutogradMeta& meta(TensorImpl* impl) {
  if (!impl->autograd) impl->autograd = std::make_unique<AutogradMeta>();
  return *impl->autograd;
}
const Tensor kUndefined;
}  // namespace

bool Tensor::requires_grad() const {
  return impl_ && impl_->autograd && (impl_->autograd->requires_grad || impl_->autograd->grad_fn);
}

Tensor& Tensor::requires_grad_(bool on) {
  SSM_CHECK(defined(), "requires_grad_: tensor is undefined");
  SSM_CHECK(is_leaf(), "requires_grad_: only leaf tensors can change requires_grad; call detach() "
                       "first to make a new leaf");
  SSM_CHECK(!on || is_floating(dtype()) || is_complex(dtype()),
            "requires_grad_: only floating tensors can require gradients, got ", dtype());
  meta(impl_.get()).requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return !(impl_ && impl_->autograd && impl_->autograd->grad_fn); }

const Tensor& Tensor::grad() const {
  return (impl_ && impl_->autograd) ? impl_->autograd->grad : kUndefined;
}

void Tensor::set_grad(const Tensor& g) {
  if (g.defined())
    SSM_CHECK(g.shape() == shape(), "set_grad: gradient shape ", g.shape(),
              " does not match tensor shape ", shape());
  meta(impl_.get()).grad = g;
}

void Tensor::zero_grad() {
  if (impl_ && impl_->autograd) impl_->autograd->grad = Tensor();
}

std::shared_ptr<Node> Tensor::grad_fn() const {
  return (impl_ && impl_->autograd) ? impl_->autograd->grad_fn : nullptr;
}

uint32_t Tensor::output_nr() const {
  return (impl_ && impl_->autograd) ? impl_->autograd->output_nr : 0;
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  SSM_CHECK(defined(), "backward: tensor is undefined");
  SSM_CHECK(requires_grad(), "backward: the tensor does not require grad and has no grad_fn (was it "
                             "computed under no_grad, or from inputs that do not require grad?)");
  Tensor g = grad;
  if (!g.defined()) {
    SSM_CHECK(numel() == 1, "backward: without an explicit gradient the tensor must hold one "
                            "element, got shape ", shape());
    g = Tensor::ones(shape(), dtype(), device());
  }
  SSM_CHECK(g.shape() == shape(), "backward: gradient shape ", g.shape(),
            " does not match tensor shape ", shape());
  Tensor roots[] = {*this};
  Tensor grads[] = {g};
  run_backward(roots, grads, retain_graph);
}

void Tensor::register_hook(GradHook hook) const {
  SSM_CHECK(requires_grad(), "register_hook: the tensor does not require grad");
  AutogradMeta& m = meta(impl_.get());
  if (m.grad_fn)
    m.grad_fn->pre_hooks.emplace_back(m.output_nr, std::move(hook));
  else
    m.hooks.push_back(std::move(hook));
}

void Tensor::register_post_accumulate_grad_hook(PostAccumulateHook hook) const {
  SSM_CHECK(requires_grad() && is_leaf(),
            "register_post_accumulate_grad_hook: only leaves that require grad accumulate .grad");
  meta(impl_.get()).post_hooks.push_back(std::move(hook));
}

// ---- helpers ------------------------------------------------------------------------------

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  return make_view(base, shape, strides, offset, base.dtype());
}

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset,
                 DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

std::string describe(const Tensor& t) {
  if (!t.defined()) return "undefined tensor";
  std::ostringstream os;
  os << t.dtype() << ' ' << t.shape() << " on " << t.device();
  return os.str();
}

void check_defined(const Tensor& t, const char* op, const char* arg) {
  SSM_CHECK(t.defined(), op, ": argument '", arg, "' is an undefined tensor");
}

void check_same_device(const Tensor& a, const Tensor& b, const char* op) {
  SSM_CHECK(a.device() == b.device(), op, ": tensors are on different devices (", a.device(),
            " and ", b.device(), "); move them with .to(device) first");
}

}  // namespace ssm
