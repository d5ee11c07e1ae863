// The CUDA runtime seam: the few calls core/ needs, compiled only in CUDA builds.
// Kernels live beside their ops in ops/cuda/.
#pragma once

#include <cstddef>

namespace ssm::cuda {

int device_count();  // 0 when no GPU or no driver is present
void* malloc(size_t nbytes, int device);
void free(void* p, int device);
void memcpy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t nbytes);
void fill_bytes(void* p, unsigned char value, size_t nbytes);

}  // namespace ssm::cuda
