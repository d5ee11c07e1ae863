// embedding's CUDA kernel table (ops/cuda/embedding.cu): ids and weight read in place with their
// strides; the ids the backward reads are the ids tensor itself (copied when contiguous).
#include <sstream>
#include <string>
#include <vector>

#include "core/autograd.h"
#include "ops/cuda/embedding_cuda.h"
#include "ops/cuda/nd_index.h"
#include "ops/dispatch.h"
#include "ops/embedding.h"

namespace ssm {
namespace {

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

cuda::EmbeddingProblem problem(const Tensor& ids, DType dt, int64_t V, int64_t D) {
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

Tensor forward(const Tensor& weight, const Tensor& ids, const Tensor& out, bool keep_ids) {
  int64_t V = weight.size(0), D = weight.size(1);
  int64_t bad_value = 0;
  int64_t bad = cuda::embedding_forward(problem(ids, weight.dtype(), V, D), weight.raw_data(),
                                        weight.stride(0), weight.stride(1), out.raw_data(),
                                        &bad_value);
  SSM_CHECK(bad < 0, "embedding: id ", bad_value, " at position ", multi_index(bad, ids.shape()),
            " of ids ", describe(ids), " is out of range for a table of ", V,
            " rows (expected 0 <= id < ", V, ")");
  if (!keep_ids) return Tensor();
  // A copy, as the CPU keeps one: later in-place writes to ids must not change the gradient
  // (a non-contiguous ids tensor is kept as it is).
  return ids.is_contiguous() ? ids.detach().clone() : ids.detach();
}

// The output gradient must arrive in the weight's dtype (no conversion on this backend).
void backward(const Tensor& ids, const Tensor& gy, int64_t pad, const Tensor& dw) {
  DType dt = dw.dtype();
  int64_t V = dw.size(0), D = dw.size(1);
  SSM_CHECK(gy.dtype() == dt, "embedding backward: expects the output gradient in ", dt, ", got ",
            describe(gy));
  Tensor go = gy.contiguous();
  cuda::embedding_backward(problem(ids, dt, V, D), go.raw_data(), pad, dw.raw_data());
}

const EmbeddingKernels kCudaKernels = {floating_dtypes, forward, backward};
SSM_REGISTER_KERNELS(EmbeddingKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
