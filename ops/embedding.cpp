// Embedding lookup (a row gather) and its backward (a deterministic row scatter-add).
#include "ops/embedding.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <sstream>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/op_info.h"

namespace ssm {

namespace {

// ids as int64 in row-major order, each checked against [0, V).
std::vector<int64_t> load_ids(const Tensor& ids, int64_t V) {
  std::vector<int64_t> v = ids.to_vector<int64_t>();
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i] >= 0 && v[i] < V) continue;
    // Position as a multi-index into ids.
    std::ostringstream pos;
    pos << '(';
    int64_t rem = int64_t(i);
    std::vector<int64_t> idx(size_t(ids.dim()));
    for (int d = ids.dim() - 1; d >= 0; --d) {
      idx[size_t(d)] = rem % ids.size(d);
      rem /= ids.size(d);
    }
    for (size_t d = 0; d < idx.size(); ++d) pos << (d ? ", " : "") << idx[d];
    pos << ')';
    SSM_FAIL("embedding: id ", v[i], " at position ", pos.str(), " of ids ", describe(ids),
             " is out of range for a table of ", V, " rows (expected 0 <= id < ", V, ")");
  }
  return v;
}

// dW (V, D) from g (N, D) contiguous and the N checked ids: positions are grouped by id (a stable
// counting sort, so each id's positions stay in order), then each id's row is summed in double,
// ids in parallel.
template <class T>
void embedding_backward_kernel(const T* g, const int64_t* ids, int64_t N, int64_t pad, T* dw,
                               int64_t V, int64_t D) {
  using S = Scalar<T>;
  std::vector<int64_t> start(size_t(V) + 1, 0), order(static_cast<size_t>(N));
  for (int64_t n = 0; n < N; ++n) ++start[size_t(ids[n]) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t n = 0; n < N; ++n) order[size_t(fill[size_t(ids[n])]++)] = n;

  parallel_for(0, V, std::max<int64_t>(1, 16384 / std::max<int64_t>(D, 1)), [&](int64_t v0,
                                                                               int64_t v1) {
    std::vector<double> acc(static_cast<size_t>(D));
    for (int64_t v = v0; v < v1; ++v) {
      T* row = dw + v * D;
      int64_t b = start[size_t(v)], e = start[size_t(v) + 1];
      if (b == e || v == pad) {
        for (int64_t d = 0; d < D; ++d) row[d] = S::store(acc_t<T>(0));
        continue;
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = b; j < e; ++j) {
        const T* gr = g + order[size_t(j)] * D;
        for (int64_t d = 0; d < D; ++d) acc[size_t(d)] += double(S::load(gr[d]));
      }
      for (int64_t d = 0; d < D; ++d) row[d] = S::store(acc_t<T>(acc[size_t(d)]));
    }
  });
}


// ---- CPU kernels ----------------------------------------------------------------------------

// The ids are checked and kept as a contiguous int64 tensor (N).
Tensor cpu_forward(const Tensor& weight, const Tensor& ids, const Tensor& out, bool keep_ids) {
  int64_t V = weight.size(0), D = weight.size(1);
  std::vector<int64_t> id = load_ids(ids, V);
  int64_t N = int64_t(id.size());
  size_t esize = size_t(weight.element_size());
  const char* w = static_cast<const char*>(weight.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  int64_t s0 = weight.stride(0), s1 = weight.stride(1);
  parallel_for(0, N, std::max<int64_t>(1, 32768 / std::max<int64_t>(D, 1)), [&](int64_t n0,
                                                                               int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const char* src = w + size_t(id[size_t(n)] * s0) * esize;
      char* dst = o + size_t(n * D) * esize;
      if (s1 == 1 || D == 1) {
        std::memcpy(dst, src, size_t(D) * esize);
      } else {
        for (int64_t d = 0; d < D; ++d)
          std::memcpy(dst + size_t(d) * esize, src + size_t(d * s1) * esize, esize);
      }
    }
  });
  return keep_ids ? Tensor::from_vector(id, Shape{N}) : Tensor();
}

// The output gradient is taken to the weight's dtype first.
void cpu_backward(const Tensor& ids, const Tensor& gy, int64_t pad, const Tensor& dw) {
  DType dt = dw.dtype();
  int64_t V = dw.size(0), D = dw.size(1);
  Tensor go = gy.dtype() == dt ? gy : gy.to(dt);
  go = go.contiguous();
  SSM_DISPATCH_FLOAT(dt, "embedding", [&] {
    embedding_backward_kernel<scalar_t>(static_cast<const scalar_t*>(go.raw_data()),
                                        ids.data<int64_t>(), ids.numel(), pad,
                                        static_cast<scalar_t*>(dw.raw_data()), V, D);
  });
}

const EmbeddingKernels kCpuKernels = {floating_dtypes, cpu_forward, cpu_backward};
SSM_REGISTER_KERNELS(EmbeddingKernels, cpu, kCpuKernels);

}  // namespace

// ---- the op ---------------------------------------------------------------------------------

// out[n] = weight[ids[n]].  Backward: dW[v] = sum_{n : ids[n] = v, v != padding_idx} g[n].
// Saved: the ids (checked) and weight's shape; not the weight.
Tensor embedding(const Tensor& weight, const Tensor& ids, std::optional<int64_t> padding_idx) {
  check_defined(weight, "embedding", "weight");
  check_defined(ids, "embedding", "ids");
  check_same_device(weight, ids, "embedding");
  SSM_CHECK(weight.dim() == 2, "embedding: weight must be 2-D (num_embeddings, dim), got ",
            describe(weight));
  SSM_CHECK(is_floating(weight.dtype()), "embedding: weight must be a floating tensor, got ",
            describe(weight));
  SSM_CHECK(is_index(ids.dtype()), "embedding: ids must be int32 or int64, got ", describe(ids));
  const EmbeddingKernels& k = kernels<EmbeddingKernels>("embedding", weight);
  int64_t V = weight.size(0), D = weight.size(1);
  int64_t pad = -1;
  if (padding_idx) {
    SSM_CHECK(*padding_idx >= -V && *padding_idx < V, "embedding: padding_idx ", *padding_idx,
              " is out of range for a table of ", V, " rows (expected ", -V,
              " <= padding_idx < ", V, ")");
    pad = *padding_idx < 0 ? *padding_idx + V : *padding_idx;
  }
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  bool grad = needs_grad({weight});
  Tensor saved_ids = k.forward(weight, ids, out, grad);
  if (grad) {
    DType dt = weight.dtype();
    Device dev = weight.device();
    record(OpId::embedding, {weight}, out, [saved_ids, pad, V, D, dt, dev, &k](Grads& g) {
      Tensor dw = Tensor::empty({V, D}, dt, dev);
      k.backward(saved_ids, g.out[0], pad, dw);
      g.in[0] = dw;
    });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/embedding.py). The ids are an
// integer input: only the weight is gradient-checked. ------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

Tensor ids(std::vector<int64_t> v, const Shape& shape) { return Tensor::from_vector(v, shape); }

json pad(std::optional<int64_t> p) { return {{"padding_idx", p ? json(*p) : json(nullptr)}}; }

SSM_OP_INFO({.name = "embedding",
             .nodes = {OpId::embedding},
             .run = [](const Tensors& in, const json& a) {
               std::optional<int64_t> p;
               if (!a.at("padding_idx").is_null()) p = a.at("padding_idx").get<int64_t>();
               return Tensors{embedding(in[0], in[1], p)};
             },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"2-d ids, repeats", {randn(g, {7, 4}), ids({1, 3, 1, 6, 0, 3}, {2, 3})}, pad({})},
                   // The padding row is looked up but gets no gradient (PyTorch's rule), so
                   // finite differences disagree by design where ids hit it: these samples set
                   // padding_idx without hitting it; the PyTorch fixture and embedding_test
                   // cover the hits.
                   {"padding_idx", {randn(g, {5, 3}), ids({3, 4, 3, 0, 1}, {5})}, pad(2)},
                   {"negative padding_idx", {randn(g, {5, 3}), ids({2, 1, 2, 3}, {2, 2})}, pad(-1)},
                   {"0-dim id", {randn(g, {4, 5}), ids({2}, {})}, pad({})},
                   {"int32 ids", {randn(g, {6, 2}), ids({5, 0, 5, 2}, {4}).to(DType::i32)}, pad({})},
                   {"non-contiguous weight", {noncontig(randn(g, {6, 3})), ids({0, 5, 2, 2}, {2, 2})},
                    pad({})},
               };
             }});

}  // namespace
}  // namespace testing

}  // namespace ssm
