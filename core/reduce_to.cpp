// The sum kernel shared by broadcasting backward (sum_to) and ops/reduce.
//
// After permuting and coalescing, a sum over a set of dims is a batch of (A, R, K) problems:
// out[a, k] = sum_r x[a, r, k]. K == 1 is a row sum, A == 1 a column sum. Partial sums are taken
// over fixed-size blocks and combined in order, so results do not depend on the thread count.
// Accumulation is in double for every floating dtype.
#include "core/reduce_to.h"

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/tensor_arg.h"
#endif

namespace ssm {

namespace {

constexpr int64_t kBlock = 4096;

template <class T>
void sum_ark(const T* x, T* out, int64_t A, int64_t R, int64_t K) {
  using S = Scalar<T>;
  if (K == 1) {
    if (A >= 4 || R <= kBlock) {
      parallel_for(0, A, std::max<int64_t>(1, 32768 / std::max<int64_t>(R, 1)),
                   [&](int64_t a0, int64_t a1) {
                     for (int64_t a = a0; a < a1; ++a) {
                       const T* row = x + a * R;
                       double acc[4] = {0, 0, 0, 0};
                       int64_t r = 0;
                       for (; r + 4 <= R; r += 4)
                         for (int j = 0; j < 4; ++j) acc[j] += double(S::load(row[r + j]));
                       for (; r < R; ++r) acc[0] += double(S::load(row[r]));
                       out[a] = S::store(acc_t<T>((acc[0] + acc[1]) + (acc[2] + acc[3])));
                     }
                   });
      return;
    }
    // Few long rows: fixed blocks in parallel, then an ordered combine.
    int64_t nb = (R + kBlock - 1) / kBlock;
    std::vector<double> part(size_t(A * nb));
    parallel_for(0, A * nb, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        int64_t a = b / nb, blk = b % nb;
        const T* row = x + a * R;
        int64_t r0 = blk * kBlock, r1 = std::min(R, r0 + kBlock);
        double acc[4] = {0, 0, 0, 0};
        int64_t r = r0;
        for (; r + 4 <= r1; r += 4)
          for (int j = 0; j < 4; ++j) acc[j] += double(S::load(row[r + j]));
        for (; r < r1; ++r) acc[0] += double(S::load(row[r]));
        part[size_t(b)] = (acc[0] + acc[1]) + (acc[2] + acc[3]);
      }
    });
    for (int64_t a = 0; a < A; ++a) {
      double s = 0;
      for (int64_t blk = 0; blk < nb; ++blk) s += part[size_t(a * nb + blk)];
      out[a] = S::store(acc_t<T>(s));
    }
    return;
  }
  // Column sums: vectorise over k, parallelise over (a, k-block).
  constexpr int64_t kCols = 256;
  int64_t kb = (K + kCols - 1) / kCols;
  parallel_for(0, A * kb, std::max<int64_t>(1, 32768 / std::max<int64_t>(R * kCols, 1)),
               [&](int64_t t0, int64_t t1) {
                 double acc[kCols];
                 for (int64_t t = t0; t < t1; ++t) {
                   int64_t a = t / kb, k0 = (t % kb) * kCols, k1 = std::min(K, k0 + kCols);
                   int64_t w = k1 - k0;
                   for (int64_t j = 0; j < w; ++j) acc[j] = 0;
                   const T* base = x + a * R * K + k0;
                   for (int64_t r = 0; r < R; ++r) {
                     const T* p = base + r * K;
                     for (int64_t j = 0; j < w; ++j) acc[j] += double(S::load(p[j]));
                   }
                   T* o = out + a * K + k0;
                   for (int64_t j = 0; j < w; ++j) o[j] = S::store(acc_t<T>(acc[j]));
                 }
               });
}

}  // namespace

Tensor sum_kernel(const Tensor& x_in, uint32_t dims, bool keepdim) {
  NoGradGuard ng;  // a kernel: callers record the graph
  int nd = x_in.dim();
  Shape out_keep = x_in.shape();
  for (int d = 0; d < nd; ++d)
    if (dims >> d & 1u) out_keep[d] = 1;
  Shape out_shape;
  for (int d = 0; d < nd; ++d)
    if (!(dims >> d & 1u) || keepdim) out_shape.push_back(out_keep[d]);

  DType odt = is_floating(x_in.dtype()) ? x_in.dtype() : DType::i64;
  Tensor x = is_floating(x_in.dtype()) ? x_in : x_in.to(DType::i64);
#ifdef SSM_WITH_CUDA
  if (x.device().is_cuda()) {  // strided: no permute or copy needed
    Tensor out = Tensor::empty(out_shape, odt, x.device());
    cuda::ReduceProblem p = cuda::reduce_problem(x, dims);
    p.out = out.raw_data();
    cuda::reduce(cuda::Reduce::sum, p);
    return out;
  }
#endif

  // Find whether the reduced dims form one block (A, R, K) in a contiguous layout; otherwise
  // permute the reduced dims to the end and copy.
  int first = -1, last = -1;
  for (int d = 0; d < nd; ++d)
    if ((dims >> d & 1u) && x.shape()[d] != 1) {
      if (first < 0) first = d;
      last = d;
    }
  Tensor out = Tensor::empty(out_shape, odt);
  if (first < 0) {  // nothing (of size > 1) to reduce
    out.copy_(x.reshape(out_shape));
    return out;
  }
  bool block = true;
  for (int d = first; d <= last; ++d)
    if (!(dims >> d & 1u) && x.shape()[d] != 1) block = false;
  Tensor xc;
  int64_t A = 1, R = 1, K = 1;
  if (block) {
    xc = x.contiguous();
    for (int d = 0; d < first; ++d) A *= x.shape()[d];
    for (int d = first; d <= last; ++d) R *= x.shape()[d];
    for (int d = last + 1; d < nd; ++d) K *= x.shape()[d];
  } else {
    Shape perm;
    for (int d = 0; d < nd; ++d)
      if (!(dims >> d & 1u)) perm.push_back(d);
    for (int d = 0; d < nd; ++d)
      if (dims >> d & 1u) perm.push_back(d);
    xc = x.permute(perm).contiguous();
    for (int d = 0; d < nd; ++d) (dims >> d & 1u ? R : A) *= x.shape()[d];
  }
  SSM_DISPATCH_NUMERIC(odt, "sum", [&] {
    sum_ark<scalar_t>(static_cast<const scalar_t*>(xc.raw_data()),
                      static_cast<scalar_t*>(out.raw_data()), A, R, K);
  });
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  int lead = g.dim() - shape.size();
  SSM_CHECK(lead >= 0, "sum_to: cannot sum shape ", g.shape(), " to the larger shape ", shape);
  uint32_t mask = 0;
  for (int d = 0; d < g.dim(); ++d) {
    int j = d - lead;
    if (j < 0 || (shape[j] == 1 && g.shape()[d] != 1)) mask |= 1u << d;
    else
      SSM_CHECK(shape[j] == g.shape()[d], "sum_to: shape ", g.shape(), " does not broadcast from ",
                shape);
  }
  Tensor s = sum_kernel(g, mask, true);
  NoGradGuard ng;
  return s.reshape(shape);
}

}  // namespace ssm
