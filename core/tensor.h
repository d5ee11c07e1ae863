// Tensor: a strided view of refcounted storage, with autograd metadata.
//
// A Tensor is a cheap handle (one shared_ptr). Copying a Tensor aliases it; use clone() for a copy.
// Views (reshape when possible, permute, transpose, narrow, select, expand, squeeze, unsqueeze)
// share storage and are differentiable. Sizes, strides and the storage offset are in elements.
#pragma once

#include <complex>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/device.h"
#include "core/dtype.h"
#include "core/shape.h"
#include "core/storage.h"

namespace ssm {

class Tensor;
struct Node;
struct AutogradMeta;
class Generator;

// A gradient hook sees the gradient of a tensor before it is used; it may return a replacement
// (a defined Tensor of the same shape) or an undefined Tensor to keep the gradient as it is.
using GradHook = std::function<Tensor(const Tensor&)>;
// Runs on a leaf after its .grad has been accumulated (used to overlap gradient all-reduce).
using PostAccumulateHook = std::function<void(Tensor&)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape shape;
  Shape strides;
  int64_t offset = 0;
  DType dtype = DType::f32;
  std::unique_ptr<AutogradMeta> autograd;  // null until requires_grad / grad_fn is set

  TensorImpl();
  ~TensorImpl();
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // ---- factories --------------------------------------------------------------------------
  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor ones(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32,
                     Device device = Device::cpu());
  // A 0-dim tensor holding `value`.
  static Tensor scalar(double value, DType dtype = DType::f32, Device device = Device::cpu());
  // 0, 1, ..., n-1.
  static Tensor arange(int64_t n, DType dtype = DType::i64, Device device = Device::cpu());
  // Copies `values` (length must equal the shape's element count) into a new CPU tensor.
  template <class T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  static Tensor from_complex(const std::vector<std::complex<double>>& values, const Shape& shape,
                            DType dtype = DType::c128);
  // Random tensors from a counter-based generator: the same seed gives the same numbers on any
  // thread count. Default generator when `gen` is null.
  static Tensor rand(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
  static Tensor randn(const Shape& shape, DType dtype = DType::f32, Generator* gen = nullptr);
  static Tensor uniform(const Shape& shape, double low, double high, DType dtype = DType::f32,
                        Generator* gen = nullptr);
  static Tensor randint(const Shape& shape, int64_t low, int64_t high, DType dtype = DType::i64,
                        Generator* gen = nullptr);

  // ---- metadata ---------------------------------------------------------------------------
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl_->shape; }
  const Shape& strides() const { return impl_->strides; }
  int dim() const { return impl_->shape.size(); }
  int64_t size(int64_t d) const;
  int64_t stride(int64_t d) const;
  int64_t numel() const { return impl_->shape.numel(); }
  int64_t offset() const { return impl_->offset; }
  DType dtype() const { return impl_->dtype; }
  Device device() const { return impl_->storage->device; }
  int64_t element_size() const { return dtype_size(impl_->dtype); }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return impl_->storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // Pointer to the first element (offset applied).
  void* raw_data() const {
    return static_cast<char*>(impl_->storage->data) + impl_->offset * dtype_size(impl_->dtype);
  }
  template <class T>
  T* data() const;  // checks that T matches the dtype

  // ---- element access (CPU copies for tests and printing) ---------------------------------
  template <class T>
  T item() const;  // single-element tensor -> T
  template <class T>
  std::vector<T> to_vector() const;  // all elements in row-major order, converted to T
  double at(std::initializer_list<int64_t> index) const;
  std::string str() const;  // PyTorch-style printing

  // ---- copies and conversions -------------------------------------------------------------
  Tensor contiguous() const;  // self when already contiguous; differentiable
  Tensor clone() const;       // always a fresh contiguous copy; differentiable
  Tensor to(DType dtype) const;  // differentiable between floating dtypes
  Tensor to(Device device) const;
  Tensor cpu() const { return to(Device::cpu()); }

  // ---- views (differentiable) -------------------------------------------------------------
  Tensor view(const Shape& shape) const;     // no copy; error when the strides do not allow it
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy; -1 is inferred
  Tensor flatten(int64_t start = 0, int64_t end = -1) const;
  Tensor permute(const Shape& dims) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor t() const;  // transpose of a 2-D tensor
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor slice(int64_t dim, int64_t start, int64_t end, int64_t step = 1) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor squeeze(int64_t dim) const;
  Tensor unsqueeze(int64_t dim) const;
  Tensor expand(const Shape& shape) const;  // -1 keeps a size; new leading dims allowed
  Tensor expand_as(const Tensor& other) const { return expand(other.shape()); }
  Tensor view_as_real() const;     // complex (...) -> real (..., 2), no copy
  Tensor view_as_complex() const;  // real (..., 2) -> complex (...), no copy

  // ---- in-place writes (bump the storage version; not differentiable) ---------------------
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // broadcasts src to self's shape, converts dtype/device

  // ---- autograd ---------------------------------------------------------------------------
  bool requires_grad() const;
  Tensor& requires_grad_(bool on = true);  // only on leaves of floating dtype
  bool is_leaf() const;
  const Tensor& grad() const;  // undefined when none has been accumulated
  void set_grad(const Tensor& g);
  void zero_grad();  // sets .grad to undefined (like PyTorch's set_to_none)
  std::shared_ptr<Node> grad_fn() const;
  uint32_t output_nr() const;
  Tensor detach() const;  // shares storage, no autograd history
  // Backward from this tensor. Without `grad`, the tensor must hold one element (grad = 1).
  void backward(const Tensor& grad = Tensor(), bool retain_graph = false) const;
  void register_hook(GradHook hook) const;
  void register_post_accumulate_grad_hook(PostAccumulateHook hook) const;

 private:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

struct AutogradMeta {
  bool requires_grad = false;
  Tensor grad;
  std::shared_ptr<Node> grad_fn;
  uint32_t output_nr = 0;
  std::vector<GradHook> hooks;  // leaves only; non-leaf hooks live on the grad_fn
  std::vector<PostAccumulateHook> post_hooks;
};

// Makes a tensor viewing `storage` with the given geometry (no checks beyond the bounds).
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset);
Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset,
                 DType dtype);

// Error helpers shared by the ops.
std::string describe(const Tensor& t);  // "float32 (2, 3) on cpu"
void check_defined(const Tensor& t, const char* op, const char* arg);
void check_same_device(const Tensor& a, const Tensor& b, const char* op);

}  // namespace ssm
