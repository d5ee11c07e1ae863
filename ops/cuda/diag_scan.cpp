// diag_scan's CUDA kernel table: Tensors to the launch struct of ops/cuda/diag_scan.cu.
#include "ops/cuda/diag_scan_cuda.h"
#include "ops/diag_scan.h"
#include "ops/dispatch.h"

namespace ssm {
namespace {

cuda::DiagScanLaunch launch(const DiagScanArgs& a, const Tensor& b) {
  cuda::DiagScanLaunch s;
  s.device = b.device().index;
  s.dtype = b.dtype();
  s.lambda = a.lambda.raw_data();
  s.seq_start = a.seq_start.defined() ? a.seq_start.data<int32_t>() : nullptr;
  s.B = b.size(0);
  s.L = b.size(1);
  s.P = b.size(2);
  s.per_step = a.per_step;
  s.reverse = a.reverse;
  s.adjoint = a.adjoint;
  return s;
}

void scan(const DiagScanArgs& a, const Tensor& b, const Tensor& x) {
  if (b.numel() == 0) return;
  int64_t L = b.size(1), chunks = (L + cuda::diag_scan_chunk_length(L) - 1) / cuda::diag_scan_chunk_length(L);
  Tensor work = Tensor::empty({2, b.size(0), chunks, b.size(2), 2}, b.dtype(), b.device());
  cuda::diag_scan_forward(launch(a, b), b.raw_data(), x.raw_data(), work.raw_data());
}

void lambda_grad(const DiagScanArgs& a, const Tensor& h, const Tensor& x, const Tensor& out) {
  if (h.numel() == 0) return;
  cuda::diag_scan_lambda_grad(launch(a, h), h.raw_data(), x.raw_data(), out.raw_data());
}

const DiagScanKernels kCudaKernels = {wide_float_dtypes, scan, lambda_grad};
SSM_REGISTER_KERNELS(DiagScanKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
