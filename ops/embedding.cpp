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

#ifdef SSM_WITH_CUDA
#include "ops/cuda/embedding_cuda.h"
#include "ops/cuda/nd_index.h"
#endif

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

// dW (V, D) from g (N, D) contiguous: positions are grouped by id (a stable counting sort, so
// each id's positions stay in order), then each id's row is summed in double, ids in parallel.
template <class T>
void embedding_backward_kernel(const T* g, const std::vector<int64_t>& ids, int64_t pad, T* dw,
                               int64_t V, int64_t D) {
  using S = Scalar<T>;
  int64_t N = int64_t(ids.size());
  std::vector<int64_t> start(size_t(V) + 1, 0), order(static_cast<size_t>(N));
  for (int64_t id : ids) ++start[size_t(id) + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (int64_t n = 0; n < N; ++n) order[size_t(fill[size_t(ids[size_t(n)])]++)] = n;

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


#ifdef SSM_WITH_CUDA
// ---- CUDA (kernels in ops/cuda/embedding.cu): ids read in place; saved: the ids tensor --------

// "(1, 2)": flat row-major position n of `shape` as a multi-index.
std::string multi_index(int64_t n, const Shape& shape) {
  std::ostringstream pos;
  pos << '(';
  std::vector<int64_t> idx(size_t(shape.size()));
  for (int d = shape.size() - 1; d >= 0; --d) {
    idx[size_t(d)] = n % shape[d];
    n /= shape[d];
  }
  for (size_t d = 0; d < idx.size(); ++d) pos << (d ? ", " : "") << idx[d];
  pos << ')';
  return pos.str();
}

cuda::EmbeddingProblem emb_problem(const Tensor& ids, DType dt, int64_t V, int64_t D) {
  cuda::EmbeddingProblem p;
  p.device = ids.device().index;
  p.dtype = dt;
  p.V = V;
  p.D = D;
  p.N = ids.numel();
  p.ids = ids.raw_data();
  p.ids_i32 = ids.dtype() == DType::i32;
  p.ids_ix = cuda::nd_index(ids, ids.dim());
  return p;
}

Tensor embedding_cuda(const Tensor& weight, const Tensor& ids, int64_t V, int64_t D, int64_t pad) {
  cuda::EmbeddingProblem p = emb_problem(ids, weight.dtype(), V, D);
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype(), weight.device());
  int64_t bad_value = 0;
  int64_t bad = cuda::embedding_forward(p, weight.raw_data(), weight.stride(0), weight.stride(1),
                                        out.raw_data(), &bad_value);
  SSM_CHECK(bad < 0, "embedding: id ", bad_value, " at position ", multi_index(bad, ids.shape()),
            " of ids ", describe(ids), " is out of range for a table of ", V,
            " rows (expected 0 <= id < ", V, ")");
  if (needs_grad({weight})) {
    DType dt = weight.dtype();
    // A copy, as the CPU path keeps: later in-place writes to ids must not change the gradient
    // (a non-contiguous ids tensor is kept as it is).
    Tensor saved_ids = ids.is_contiguous() ? ids.detach().clone() : ids.detach();
    record(OpId::embedding, {weight}, out, [saved_ids, pad, V, D, dt](Grads& g) {
      Tensor go = g.out[0];
      SSM_CHECK(go.dtype() == dt, "embedding backward: expects the output gradient in ", dt,
                ", got ", describe(go));
      go = go.contiguous();
      Tensor dw = Tensor::empty({V, D}, dt, go.device());
      cuda::embedding_backward(emb_problem(saved_ids, dt, V, D), go.raw_data(), pad, dw.raw_data());
      g.in[0] = dw;
    });
  }
  return out;
}
#endif

}  // namespace

// out[n] = weight[ids[n]].  Backward: dW[v] = sum_{n : ids[n] = v, v != padding_idx} g[n].
// Saved: the ids (checked, as int64) and weight's shape; not the weight.
Tensor embedding(const Tensor& weight, const Tensor& ids, std::optional<int64_t> padding_idx) {
  check_defined(weight, "embedding", "weight");
  check_defined(ids, "embedding", "ids");
  check_same_device(weight, ids, "embedding");
#ifndef SSM_WITH_CUDA
  SSM_CHECK(weight.device().is_cpu(), "embedding: no CUDA kernel in this build for ",
            describe(weight));
#endif
  SSM_CHECK(weight.dim() == 2, "embedding: weight must be 2-D (num_embeddings, dim), got ",
            describe(weight));
  SSM_CHECK(is_floating(weight.dtype()), "embedding: weight must be a floating tensor, got ",
            describe(weight));
  SSM_CHECK(is_index(ids.dtype()), "embedding: ids must be int32 or int64, got ", describe(ids));
  int64_t V = weight.size(0), D = weight.size(1);
  int64_t pad = -1;
  if (padding_idx) {
    SSM_CHECK(*padding_idx >= -V && *padding_idx < V, "embedding: padding_idx ", *padding_idx,
              " is out of range for a table of ", V, " rows (expected ", -V,
              " <= padding_idx < ", V, ")");
    pad = *padding_idx < 0 ? *padding_idx + V : *padding_idx;
  }
#ifdef SSM_WITH_CUDA
  if (weight.device().is_cuda()) return embedding_cuda(weight, ids, V, D, pad);
#endif
  auto id = std::make_shared<std::vector<int64_t>>(load_ids(ids, V));
  int64_t N = int64_t(id->size());
  Shape out_shape = ids.shape();
  out_shape.push_back(D);
  Tensor out = Tensor::empty(out_shape, weight.dtype());
  size_t esize = size_t(weight.element_size());
  const char* w = static_cast<const char*>(weight.raw_data());
  char* o = static_cast<char*>(out.raw_data());
  int64_t s0 = weight.stride(0), s1 = weight.stride(1);
  parallel_for(0, N, std::max<int64_t>(1, 32768 / std::max<int64_t>(D, 1)), [&](int64_t n0,
                                                                               int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const char* src = w + size_t((*id)[size_t(n)] * s0) * esize;
      char* dst = o + size_t(n * D) * esize;
      if (s1 == 1 || D == 1) {
        std::memcpy(dst, src, size_t(D) * esize);
      } else {
        for (int64_t d = 0; d < D; ++d)
          std::memcpy(dst + size_t(d) * esize, src + size_t(d * s1) * esize, esize);
      }
    }
  });
  if (needs_grad({weight})) {
    DType dt = weight.dtype();
    record(OpId::embedding, {weight}, out, [id, pad, V, D, dt](Grads& g) {
      Tensor go = g.out[0].dtype() == dt ? g.out[0] : g.out[0].to(dt);
      go = go.contiguous();
      Tensor dw = Tensor::empty({V, D}, dt);
      SSM_DISPATCH_FLOAT(dt, "embedding", [&] {
        embedding_backward_kernel<scalar_t>(static_cast<const scalar_t*>(go.raw_data()), *id, pad,
                                            static_cast<scalar_t*>(dw.raw_data()), V, D);
      });
      g.in[0] = dw;
    });
  }
  return out;
}

}  // namespace ssm
