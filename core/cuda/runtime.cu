#include <cuda_runtime.h>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"

namespace ssm::cuda {

namespace {
void check(cudaError_t e, const char* what) {
  SSM_CHECK(e == cudaSuccess, "CUDA error in ", what, ": ", cudaGetErrorString(e));
}
}  // namespace

namespace {
thread_local cudaStream_t t_stream = nullptr;  // null: the legacy default stream
thread_local bool t_capturing = false;
}  // namespace

cudaStream_t stream() { return t_stream; }
bool capturing() { return t_capturing; }

void set_capture_stream(void* s) {
  t_stream = static_cast<cudaStream_t>(s);
  t_capturing = s != nullptr;
}

int device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

void* malloc(size_t nbytes, int device) {
  int n = device_count();
  SSM_CHECK(n > 0, "no CUDA device is visible (the build has CUDA, the machine has no GPU); use "
                   "device cpu");
  SSM_CHECK(device >= 0 && device < n, "cuda:", device, " does not exist (", n, " device(s) visible)");
  check(cudaSetDevice(device), "cudaSetDevice");
  void* p = nullptr;
  cudaError_t e = cudaMalloc(&p, nbytes);
  if (e != cudaSuccess) cudaGetLastError();  // clear it: the caller may release memory and retry
  SSM_CHECK(e == cudaSuccess, "out of GPU memory: could not allocate ", nbytes, " bytes on cuda:",
            device, " (", cudaGetErrorString(e), ")");
  return p;
}

void free(void* p, int device) {
  cudaSetDevice(device);
  cudaFree(p);
}

void fill_bytes(void* p, unsigned char value, size_t nbytes) {
  check(cudaMemsetAsync(p, value, nbytes, t_stream), "cudaMemsetAsync");
}

void check_launch(const char* what) { check(cudaGetLastError(), what); }

size_t max_shared_per_block(int device) {
  int n = 0;
  check(cudaDeviceGetAttribute(&n, cudaDevAttrMaxSharedMemoryPerBlockOptin, device),
        "max_shared_per_block");
  return size_t(n);
}

}  // namespace ssm::cuda
