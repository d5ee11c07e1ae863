// The fft family's CUDA kernel table: Tensors (contiguous rows, ops/fft.h) to cuFFT calls
// (ops/cuda/fft.cu).
#include "ops/cuda/fft_cuda.h"
#include "ops/dispatch.h"
#include "ops/fft.h"

namespace ssm {
namespace {

void run(cuda::FftType type, const Tensor& x, const Tensor& y, int64_t n, bool inverse,
         double scale) {
  cuda::FftCall c;
  c.device = x.device().index;
  c.dtype = x.dtype();
  c.type = type;
  c.inverse = inverse;
  c.rows = x.size(0);
  c.n = n;
  c.in_len = x.size(1);
  c.out_len = y.size(1);
  c.scale = scale;
  c.x = x.raw_data();
  c.y = y.raw_data();
  cuda::fft_rows(c);
}

void c2c(const Tensor& x, const Tensor& y, int64_t n, bool inverse, double scale) {
  run(cuda::FftType::c2c, x, y, n, inverse, scale);
}
void r2c(const Tensor& x, const Tensor& y, int64_t n, double scale) {
  run(cuda::FftType::r2c, x, y, n, false, scale);
}
void c2r(const Tensor& x, const Tensor& y, int64_t n, double scale) {
  run(cuda::FftType::c2r, x, y, n, false, scale);
}

const FftKernels kCudaKernels = {wide_float_dtypes, c2c, r2c, c2r};
SSM_REGISTER_KERNELS(FftKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
