// fft_conv's CUDA kernel table: the spectral products (ops/cuda/fft_conv.cu); its transforms are
// the fft family's table (ops/cuda/fft.cpp).
#include "ops/cuda/fft_conv_cuda.h"
#include "ops/dispatch.h"
#include "ops/fft_conv.h"

namespace ssm {
namespace {

void mul(const Tensor& a, const Tensor& k, const Tensor& y, bool conj_k) {
  cuda::fft_conv_mul(a.device().index, a.dtype(), a.raw_data(), k.raw_data(), y.raw_data(),
                     a.size(0), a.size(1), a.size(2), conj_k);
}

void mul_conj_sum(const Tensor& a, const Tensor& c, const Tensor& y) {
  cuda::fft_conv_mul_conj_sum(a.device().index, a.dtype(), a.raw_data(), c.raw_data(),
                              y.raw_data(), a.size(0), a.size(1), a.size(2));
}

const FftConvKernels kCudaKernels = {wide_float_dtypes, mul, mul_conj_sum};
SSM_REGISTER_KERNELS(FftConvKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
