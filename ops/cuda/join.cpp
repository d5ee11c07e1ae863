// cat / split's CUDA kernel table (ops/cuda/join.cu): cat, its backward and split's backward are
// one kernel each, and cat's backward hands out contiguous pieces instead of views of g.
#include <vector>

#include "ops/cuda/join_cuda.h"
#include "ops/dispatch.h"
#include "ops/join.h"

namespace ssm {
namespace {

cuda::JoinPiece piece(const Tensor& t, int64_t start, int64_t n) {
  cuda::JoinPiece p;
  p.start = start;
  p.n = n;
  if (!t.defined()) return p;
  p.p = t.raw_data();
  for (int k = 0; k < t.dim(); ++k) p.stride[k] = t.strides()[k];
  return p;
}

void join(const Tensor& big, int d, const std::vector<Tensor>& pieces,
          const std::vector<int64_t>& sizes) {
  std::vector<cuda::JoinPiece> ps;
  int64_t at = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    ps.push_back(piece(pieces[i], at, sizes[i]));
    at += sizes[i];
  }
  cuda::join_copy(true, big.raw_data(), big.shape(), big.strides(), d, ps, big.element_size(),
                  big.device().index);
}

std::vector<Tensor> windows(const Tensor& gy, int d, const std::vector<int64_t>& sizes,
                            const std::vector<bool>& wanted) {
  std::vector<Tensor> out(sizes.size());
  std::vector<cuda::JoinPiece> ps;
  int64_t at = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (wanted[i]) {
      Shape s = gy.shape();
      s[d] = sizes[i];
      out[i] = Tensor::empty(s, gy.dtype(), gy.device());
    }
    ps.push_back(piece(out[i], at, sizes[i]));
    at += sizes[i];
  }
  cuda::join_copy(false, gy.raw_data(), gy.shape(), gy.strides(), d, ps, gy.element_size(),
                  gy.device().index);
  return out;
}

const JoinKernels kCudaKernels = {all_dtypes, join, windows};
SSM_REGISTER_KERNELS(JoinKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
