// cat, stack, split, chunk. cat copies each input into its window of the output (bits only, any
// layout); split makes views. Backward of each is the other:
//   cat   -> Node "cat":   d tensors[i] = window i of g (a view of g)
//   split -> Node "split": dx = the output gradients laid end to end, zeros for pieces that got none
#include "ops/join.h"

#include <algorithm>
#include <span>

#include "core/autograd.h"
#include "core/error.h"

#ifdef SSM_WITH_CUDA
#include "ops/cuda/join_cuda.h"
#endif

namespace ssm {

namespace {

#ifdef SSM_WITH_CUDA
// On CUDA, cat, its backward and split's backward are one kernel each (ops/cuda/join.cu), and
// cat's backward hands out contiguous pieces instead of views of g.
cuda::JoinPiece piece(const Tensor& t, int64_t start, int64_t n) {
  cuda::JoinPiece p;
  p.start = start;
  p.n = n;
  if (!t.defined()) return p;
  p.p = t.raw_data();
  for (int k = 0; k < t.dim(); ++k) p.stride[k] = t.strides()[k];
  return p;
}
#endif

// Views of x: piece i is [start_i, start_i + sizes[i]) along d, recorded as one split Node.
std::vector<Tensor> split_views(const Tensor& x, const std::vector<int64_t>& sizes, int d) {
  std::vector<Tensor> outs;
  outs.reserve(sizes.size());
  int64_t start = 0;
  for (int64_t n : sizes) {
    Shape s = x.shape();
    s[d] = n;
    outs.push_back(make_view(x, s, x.strides(), x.offset() + start * x.strides()[d]));
    start += n;
  }
  if (needs_grad({x})) {
    Shape in_shape = x.shape();
    DType dtype = x.dtype();
    Device device = x.device();
    record(OpId::split, std::span<const Tensor>(&x, 1), outs,
           [sizes, d, in_shape, dtype, device](Grads& g) {
             Tensor dx = Tensor::empty(in_shape, dtype, device);
#ifdef SSM_WITH_CUDA
             if (device.is_cuda()) {
               std::vector<cuda::JoinPiece> pieces;
               int64_t start = 0;
               for (size_t i = 0; i < sizes.size(); ++i) {
                 pieces.push_back(piece(g.out[i], start, sizes[i]));
                 start += sizes[i];
               }
               cuda::join_copy(true, dx.raw_data(), dx.shape(), dx.strides(), d, pieces,
                               dx.element_size(), device.index);
               g.in[0] = dx;
               return;
             }
#endif
             int64_t at = 0;
             for (size_t i = 0; i < sizes.size(); ++i) {
               Tensor window = dx.narrow(d, at, sizes[i]);
               if (g.out[i].defined())
                 window.copy_(g.out[i]);
               else
                 window.zero_();
               at += sizes[i];
             }
             g.in[0] = dx;
           });
  }
  return outs;
}

}  // namespace

Tensor cat(const std::vector<Tensor>& tensors, int64_t dim) {
  SSM_CHECK(!tensors.empty(), "cat: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i)
    SSM_CHECK(tensors[i].defined(), "cat: tensor ", i, " is an undefined tensor");
  const Tensor& first = tensors[0];
  for (size_t i = 0; i < tensors.size(); ++i)
    SSM_CHECK(tensors[i].dim() > 0, "cat: tensor ", i, " is 0-dim (", describe(tensors[i]),
              ") and cannot be concatenated; unsqueeze it or use stack()");
  int d = wrap_dim(dim, first.dim(), "cat");
  Shape shape = first.shape();
  int64_t total = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    check_same_device(first, t, "cat");
#ifndef SSM_WITH_CUDA
    SSM_CHECK(t.device().is_cpu(), "cat: no CUDA kernel in this build for ", describe(t));
#endif
    SSM_CHECK(t.dtype() == first.dtype(), "cat: tensor ", i, " has dtype ", t.dtype(),
              " but tensor 0 has ", first.dtype(), " (", describe(t), " vs ", describe(first),
              "); convert with .to() first");
    SSM_CHECK(t.dim() == first.dim(), "cat: tensor ", i, " has ", t.dim(), " dims but tensor 0 has ",
              first.dim(), " (", describe(t), " vs ", describe(first), ")");
    for (int k = 0; k < t.dim(); ++k)
      SSM_CHECK(k == d || t.shape()[k] == shape[k], "cat: tensor ", i, " has size ", t.shape()[k],
                " in dim ", k, " but tensor 0 has ", shape[k], " (", describe(t), " vs ",
                describe(first), "); sizes must match in every dim but the cat dim ", d);
    total += t.shape()[d];
  }
  shape[d] = total;
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  std::vector<int64_t> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.shape()[d]);
#ifdef SSM_WITH_CUDA
  if (out.device().is_cuda()) {
    std::vector<cuda::JoinPiece> pieces;
    int64_t at = 0;
    for (const Tensor& t : tensors) {
      pieces.push_back(piece(t, at, t.shape()[d]));
      at += t.shape()[d];
    }
    cuda::join_copy(true, out.raw_data(), out.shape(), out.strides(), d, pieces,
                    out.element_size(), out.device().index);
  }
#endif
  if (out.device().is_cpu()) {
    int64_t at = 0;
    for (const Tensor& t : tensors) {
      Tensor window = make_view(out, t.shape(), out.strides(), at * out.strides()[d]);
      window.copy_(t);
      at += t.shape()[d];
    }
  }
  // d tensors[i] = g[start_i : start_i + n_i] along d.
  if (needs_grad(std::span<const Tensor>(tensors))) {
    record(OpId::cat, tensors, std::span<Tensor>(&out, 1), [sizes, d](Grads& g) {
#ifdef SSM_WITH_CUDA
      const Tensor& gy = g.out[0];
      if (gy.device().is_cuda()) {
        std::vector<cuda::JoinPiece> pieces;
        int64_t at = 0;
        for (size_t i = 0; i < sizes.size(); ++i) {
          Tensor gi;
          if (g.needs(i)) {
            Shape s = gy.shape();
            s[d] = sizes[i];
            g.in[i] = gi = Tensor::empty(s, gy.dtype(), gy.device());
          }
          pieces.push_back(piece(gi, at, sizes[i]));
          at += sizes[i];
        }
        cuda::join_copy(false, gy.raw_data(), gy.shape(), gy.strides(), d, pieces,
                        gy.element_size(), gy.device().index);
        return;
      }
#endif
      int64_t start = 0;
      for (size_t i = 0; i < sizes.size(); ++i) {
        if (g.needs(i)) g.in[i] = g.out[0].narrow(d, start, sizes[i]);
        start += sizes[i];
      }
    });
  }
  return out;
}

Tensor stack(const std::vector<Tensor>& tensors, int64_t dim) {
  SSM_CHECK(!tensors.empty(), "stack: expects a non-empty list of tensors");
  for (size_t i = 0; i < tensors.size(); ++i) {
    SSM_CHECK(tensors[i].defined(), "stack: tensor ", i, " is an undefined tensor");
    SSM_CHECK(tensors[i].shape() == tensors[0].shape(), "stack: expects tensors of equal shape, got ",
              describe(tensors[0]), " at entry 0 and ", describe(tensors[i]), " at entry ", i);
  }
  int d = wrap_dim(dim, tensors[0].dim() + 1, "stack");
  std::vector<Tensor> parts;
  parts.reserve(tensors.size());
  for (const Tensor& t : tensors) parts.push_back(t.unsqueeze(d));
  return cat(parts, d);
}

std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim) {
  check_defined(x, "split", "x");
  SSM_CHECK(x.dim() > 0, "split: expects a tensor with at least one dim, got ", describe(x));
  int d = wrap_dim(dim, x.dim(), "split");
  int64_t n = x.shape()[d];
  SSM_CHECK(split_size >= 0, "split: split_size must be >= 0, got ", split_size);
  SSM_CHECK(split_size > 0 || n == 0, "split: split_size 0 is only allowed for a dim of size 0, "
            "but dim ", d, " of ", describe(x), " has size ", n);
  std::vector<int64_t> sizes;
  if (n == 0) sizes.push_back(0);
  for (int64_t at = 0; at < n; at += split_size) sizes.push_back(std::min(split_size, n - at));
  return split_views(x, sizes, d);
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes, int64_t dim) {
  check_defined(x, "split", "x");
  SSM_CHECK(x.dim() > 0, "split: expects a tensor with at least one dim, got ", describe(x));
  SSM_CHECK(!split_sizes.empty(), "split: split_sizes is empty");
  int d = wrap_dim(dim, x.dim(), "split");
  int64_t sum = 0;
  for (size_t i = 0; i < split_sizes.size(); ++i) {
    SSM_CHECK(split_sizes[i] >= 0, "split: split_sizes[", i, "] is ", split_sizes[i],
              " (sizes must be >= 0)");
    sum += split_sizes[i];
  }
  SSM_CHECK(sum == x.shape()[d], "split: split_sizes sum to ", sum, " but dim ", d, " of ",
            describe(x), " has size ", x.shape()[d]);
  return split_views(x, split_sizes, d);
}

std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim) {
  check_defined(x, "chunk", "x");
  SSM_CHECK(chunks > 0, "chunk: chunks must be > 0, got ", chunks);
  SSM_CHECK(x.dim() > 0, "chunk: expects a tensor with at least one dim, got ", describe(x));
  int d = wrap_dim(dim, x.dim(), "chunk");
  int64_t n = x.shape()[d];
  // An empty dim still yields `chunks` (empty) pieces, as torch.chunk.
  if (n == 0) return split(x, std::vector<int64_t>(size_t(chunks), 0), d);
  return split(x, (n + chunks - 1) / chunks, d);
}

}  // namespace ssm
