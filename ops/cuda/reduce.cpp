// The reductions' CUDA kernel table: x goes to core's reduction engine (core/cuda/reduce.h) as a
// strided view, no copy; the backward kernels are in ops/cuda/reduce.cu, mean's division in
// ops/cuda/elementwise_binary.cu.
#include <bit>

#include "core/cuda/reduce.h"
#include "core/cuda/tensor_arg.h"
#include "ops/cuda/elementwise_cuda.h"
#include "ops/cuda/reduce_cuda.h"
#include "ops/dispatch.h"
#include "ops/elementwise_kernel.h"
#include "ops/reduce.h"

namespace ssm {
namespace {

// Any real dtype (bool too) as it is.
void extreme(const Tensor& x, const ReducePlan& p, bool is_max, const Tensor& values,
             const Tensor& indices) {
  cuda::ReduceProblem q = cuda::reduce_problem(x, p.mask);
  q.out = values.defined() ? values.raw_data() : nullptr;
  q.aux = indices.raw_data();
  cuda::reduce(is_max ? cuda::Reduce::max : cuda::Reduce::min, q);
}

void scatter_rows(const Tensor& g, const Tensor& indices, const ReducePlan& p, const Tensor& dx) {
  int nkept = dx.dim() - std::popcount(p.mask);
  cuda::scatter_rows(cuda::dims_of(dx.shape()), p.perm.begin(), nkept, p.A, dx.raw_data(),
                     g.raw_data(), static_cast<const int64_t*>(indices.raw_data()), dx.dtype());
}

void var(const Tensor& x, const ReducePlan& p, double correction, const Tensor& out,
         const Tensor& mean) {
  cuda::ReduceProblem q = cuda::reduce_problem(x, p.mask);
  q.out = out.raw_data();
  q.aux = mean.defined() ? mean.raw_data() : nullptr;
  q.correction = correction;
  cuda::reduce(cuda::Reduce::var, q);
}

void logsumexp(const Tensor& x, const ReducePlan& p, const Tensor& out, const Tensor& lse) {
  cuda::ReduceProblem q = cuda::reduce_problem(x, p.mask);
  q.out = out.raw_data();
  q.aux = lse.defined() ? lse.raw_data() : nullptr;
  cuda::reduce(cuda::Reduce::logsumexp, q);
}

// s and g are expanded over the reduced dims as broadcast views (stride 0).
void broadcast_backward(cuda::ReduceGrad kind, double scale, const Tensor& x, const Tensor& s,
                        const Tensor& g, const Tensor& dx) {
  cuda::reduce_backward(kind, scale, cuda::dims_of(x.shape()), cuda::arg_of(dx), cuda::arg_of(x),
                        cuda::arg_of(broadcast_view(s, x.shape())),
                        cuda::arg_of(broadcast_view(g, x.shape())));
}

void var_backward(const Tensor& x, const Tensor& mean, const Tensor& g, double scale,
                  const Tensor& dx) {
  broadcast_backward(cuda::ReduceGrad::var, scale, x, mean, g, dx);
}

void logsumexp_backward(const Tensor& x, const Tensor& lse, const Tensor& g, const Tensor& dx) {
  broadcast_backward(cuda::ReduceGrad::logsumexp, 1.0, x, lse, g, dx);
}

void divide(const Tensor& x, double n, const Tensor& out) {
  cuda::div_scalar(cuda::dims_of(x.shape()), cuda::arg_of(out), cuda::arg_of(x), n);
}

const ReduceKernels kCudaKernels = {real_dtypes,  extreme,      scatter_rows,       var,
                                    logsumexp,    var_backward, logsumexp_backward, divide};
SSM_REGISTER_KERNELS(ReduceKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
