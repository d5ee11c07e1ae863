#include "core/grad_accumulate.h"

#include "core/error.h"
#include "core/strided.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/copy.h"
#include "core/cuda/tensor_arg.h"
#endif

namespace ssm {

Tensor add_grads(const Tensor& a, const Tensor& b_in) {
  SSM_CHECK(a.shape() == b_in.shape(), "backward: accumulating gradients of shapes ", a.shape(),
            " and ", b_in.shape());
  SSM_CHECK(a.device() == b_in.device(), "backward: accumulating gradients on ", a.device(),
            " and ", b_in.device());
  if (is_complex(a.dtype()))
    return add_grads(a.view_as_real(), b_in.to(a.dtype()).view_as_real()).view_as_complex();
  Tensor b = b_in.dtype() == a.dtype() ? b_in : b_in.to(a.dtype());
  Tensor out = Tensor::empty(a.shape(), a.dtype(), a.device());
#ifdef SSM_WITH_CUDA
  if (a.device().is_cuda()) {
    SSM_CHECK(is_floating(a.dtype()), "backward: gradients must be floating, got ", describe(a));
    cuda::add(cuda::dims_of(a.shape()), cuda::arg_of(out), cuda::arg_of(a), cuda::arg_of(b));
    return out;
  }
#endif
  SSM_DISPATCH_FLOAT(a.dtype(), "backward", [&] {
    using S = Scalar<scalar_t>;
    scalar_t* o = static_cast<scalar_t*>(out.raw_data());
    const scalar_t* pa = static_cast<const scalar_t*>(a.raw_data());
    const scalar_t* pb = static_cast<const scalar_t*>(b.raw_data());
    for_each_strided<3>(out.shape(), {out.strides(), a.strides(), b.strides()},
                        [&](const std::array<int64_t, 3>& off, int64_t n,
                            const std::array<int64_t, 3>& st) {
                          scalar_t* op = o + off[0];
                          const scalar_t* ap = pa + off[1];
                          const scalar_t* bp = pb + off[2];
                          for (int64_t i = 0; i < n; ++i)
                            op[i * st[0]] = S::store(S::load(ap[i * st[1]]) + S::load(bp[i * st[2]]));
                        });
  });
  return out;
}

}  // namespace ssm
