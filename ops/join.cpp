// cat, stack, split, chunk. cat copies each input into its window of the output (bits only, any
// layout); split makes views. Backward of each is the other:
//   cat   -> Node "cat":   d tensors[i] = window i of g (a view of g)
//   split -> Node "split": dx = the output gradients laid end to end, zeros for pieces that got none
#include "ops/join.h"

#include <algorithm>
#include <span>

#include "core/autograd.h"
#include "core/error.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// ---- CPU kernels ----------------------------------------------------------------------------

// Each piece copied into its window of big (core's copy_, any layout), or zeros.
void cpu_join(const Tensor& big, int d, const std::vector<Tensor>& pieces,
              const std::vector<int64_t>& sizes) {
  int64_t at = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    Shape s = big.shape();
    s[d] = sizes[i];
    Tensor window = make_view(big, s, big.strides(), big.offset() + at * big.strides()[d]);
    if (pieces[i].defined())
      window.copy_(pieces[i]);
    else
      window.zero_();
    at += sizes[i];
  }
}

// Views of gy, no copy.
std::vector<Tensor> cpu_windows(const Tensor& gy, int d, const std::vector<int64_t>& sizes,
                                const std::vector<bool>& wanted) {
  std::vector<Tensor> out(sizes.size());
  int64_t start = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (wanted[i]) out[i] = gy.narrow(d, start, sizes[i]);
    start += sizes[i];
  }
  return out;
}

const JoinKernels kCpuKernels = {all_dtypes, cpu_join, cpu_windows};
SSM_REGISTER_KERNELS(JoinKernels, cpu, kCpuKernels);

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
    const JoinKernels& k = kernels<JoinKernels>("split", x);
    Shape in_shape = x.shape();
    DType dtype = x.dtype();
    Device device = x.device();
    record(OpId::split, std::span<const Tensor>(&x, 1), outs,
           [sizes, d, in_shape, dtype, device, &k](Grads& g) {
             Tensor dx = Tensor::empty(in_shape, dtype, device);
             k.join(dx, d, std::vector<Tensor>(g.out.begin(), g.out.end()), sizes);
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
  const JoinKernels& k = kernels<JoinKernels>("cat", first);
  Tensor out = Tensor::empty(shape, first.dtype(), first.device());
  std::vector<int64_t> sizes;
  for (const Tensor& t : tensors) sizes.push_back(t.shape()[d]);
  k.join(out, d, tensors, sizes);
  // d tensors[i] = g[start_i : start_i + n_i] along d.
  if (needs_grad(std::span<const Tensor>(tensors))) {
    record(OpId::cat, tensors, std::span<Tensor>(&out, 1), [sizes, d, &k](Grads& g) {
      std::vector<bool> wanted(sizes.size());
      for (size_t i = 0; i < sizes.size(); ++i) wanted[i] = g.needs(i);
      std::vector<Tensor> pieces = k.windows(g.out[0], d, sizes, wanted);
      for (size_t i = 0; i < sizes.size(); ++i)
        if (wanted[i]) g.in[i] = pieces[i];
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

// ---- the ops' test-table entries (PyTorch side: tools/fixtures/join.py) ------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

int64_t dim_arg(const json& a) { return a.at("dim").get<int64_t>(); }

// Keeps only the outputs listed in args["keep"] (all when absent): the others get no gradient.
Tensors keep(const Tensors& outs, const json& a) {
  if (!a.contains("keep")) return outs;
  Tensors kept;
  for (int64_t i : a.at("keep").get<std::vector<int64_t>>()) kept.push_back(outs[size_t(i)]);
  return kept;
}

SSM_OP_INFO({.name = "cat",
             .nodes = {OpId::cat},
             .run = [](const Tensors& in, const json& a) { return Tensors{cat(in, dim_arg(a))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"dim 0", {randn(g, {2, 3}), randn(g, {4, 3})}, {{"dim", 0}}},
                   {"three tensors, negative dim",
                    {randn(g, {2, 3, 1}), randn(g, {2, 3, 4}), randn(g, {2, 3, 2})}, {{"dim", -1}}},
                   {"non-contiguous", {noncontig(randn(g, {3, 4})), randn(g, {3, 2})}, {{"dim", 1}}},
                   {"empty piece", {randn(g, {2, 3}), randn(g, {0, 3}), randn(g, {1, 3})}, {{"dim", 0}}},
                   {"single tensor", {randn(g, {5})}, {{"dim", 0}}},
               };
             }});

SSM_OP_INFO({.name = "stack",
             .nodes = {OpId::cat, OpId::view},
             .run = [](const Tensors& in, const json& a) { return Tensors{stack(in, dim_arg(a))}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"new leading dim", {randn(g, {2, 3}), randn(g, {2, 3}), randn(g, {2, 3})}, {{"dim", 0}}},
                   {"new last dim, non-contiguous", {noncontig(randn(g, {3, 4})), randn(g, {3, 4})},
                    {{"dim", -1}}},
                   {"middle dim", {randn(g, {2, 5}), randn(g, {2, 5})}, {{"dim", 1}}},
                   {"0-dim tensors", {randn(g, {}), randn(g, {}), randn(g, {})}, {{"dim", 0}}},
               };
             }});

SSM_OP_INFO({.name = "split",
             .nodes = {OpId::split},
             .run = [](const Tensors& in, const json& a) {
               const json& s = a.at("split");
               Tensors outs = s.is_array() ? split(in[0], s.get<std::vector<int64_t>>(), dim_arg(a))
                                           : split(in[0], s.get<int64_t>(), dim_arg(a));
               return keep(outs, a);
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"even", {randn(g, {6, 4})}, {{"split", 2}, {"dim", 0}}},
                   {"uneven, negative dim", {randn(g, {3, 7})}, {{"split", 3}, {"dim", -1}}},
                   {"sizes with an empty piece", {randn(g, {5, 3})},
                    {{"split", {1, 0, 4}}, {"dim", 0}}},
                   {"non-contiguous", {noncontig(randn(g, {4, 6}))}, {{"split", {2, 4}}, {"dim", 1}}},
                   {"unused pieces get zeros", {randn(g, {6, 2})},
                    {{"split", 2}, {"dim", 0}, {"keep", {0, 2}}}},
               };
             }});

SSM_OP_INFO({.name = "chunk",
             .nodes = {OpId::split},
             .run = [](const Tensors& in, const json& a) {
               return chunk(in[0], a.at("chunks").get<int64_t>(), dim_arg(a));
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"uneven", {randn(g, {7, 3})}, {{"chunks", 3}, {"dim", 0}}},
                   {"fewer pieces than chunks", {randn(g, {3, 6})}, {{"chunks", 4}, {"dim", 1}}},
                   {"non-contiguous, negative dim", {noncontig(randn(g, {4, 5}))},
                    {{"chunks", 2}, {"dim", -2}}},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
