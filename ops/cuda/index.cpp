// gather / index_select / scatter_add's CUDA kernel table (ops/cuda/index.cu): every operand read
// in place with its strides.
#include "ops/cuda/index_cuda.h"
#include "ops/dispatch.h"
#include "ops/index.h"

namespace ssm {
namespace {

bool gather(const Tensor& out, const Tensor& x, int d, const Tensor& index) {
  Shape x_strides = x.strides();  // x walked over index's shape; dim d is added per element
  x_strides[d] = 0;
  return cuda::gather(
      cuda::make_walk<3>(index.shape(), {out.strides(), index.strides(), x_strides}),
      out.raw_data(), x.raw_data(), index.raw_data(), index.dtype(), x.element_size(),
      x.strides()[d], x.shape()[d], x.device().index);
}

// The CPU steps on the device: x converted into a fresh accumulator, the ordered scatter (src
// converted as it is loaded), and the accumulator rounded back for bf16/f16.
bool scatter_add(const Tensor& x, int d, const Tensor& index, const Tensor& src, DType acc_dtype,
                 Tensor& out) {
  int dev = x.device().index;
  Tensor acc = Tensor::empty(x.shape(), acc_dtype, x.device());
  cuda::convert(cuda::make_walk<2>(x.shape(), {acc.strides(), x.strides()}), acc.raw_data(),
                acc_dtype, x.raw_data(), x.dtype(), dev);
  Shape rest = index.shape(), os = acc.strides(), is = index.strides(), ss = src.strides();
  rest.erase(d);
  os.erase(d);
  is.erase(d);
  ss.erase(d);
  if (!cuda::scatter_add(cuda::make_walk<3>(rest, {os, is, ss}), acc.raw_data(), acc_dtype,
                         index.raw_data(), index.dtype(), src.raw_data(), src.dtype(),
                         index.shape()[d], acc.strides()[d], index.strides()[d], src.strides()[d],
                         x.shape()[d], dev))
    return false;
  if (acc_dtype == x.dtype()) {
    out = acc;
    return true;
  }
  out = Tensor::empty(x.shape(), x.dtype(), x.device());
  cuda::convert(cuda::make_walk<2>(x.shape(), {out.strides(), acc.strides()}), out.raw_data(),
                x.dtype(), acc.raw_data(), acc_dtype, dev);
  return true;
}

const IndexKernels kCudaKernels = {all_dtypes, gather, scatter_add};
SSM_REGISTER_KERNELS(IndexKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
