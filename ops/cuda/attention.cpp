// attention's CUDA kernel table: for now the math form of ops/attention.cpp (cuBLAS batched
// products and the elementwise / reduction kernels), until a fused kernel replaces it.
#include "ops/attention.h"
#include "ops/dispatch.h"

namespace ssm {
namespace {

const AttentionKernels kCudaKernels = {wide_float_dtypes, attention_math_forward,
                                       attention_math_backward};
SSM_REGISTER_KERNELS(AttentionKernels, cuda, kCudaKernels);

}  // namespace
}  // namespace ssm
