#include "core/storage.h"

#include <cstdlib>
#include <cstring>

#include "core/allocator.h"
#include "core/error.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/runtime.h"
#endif

namespace ssm {

Storage::~Storage() {
  if (!owned || data == nullptr) return;
  if (device.is_cpu())
    cpu_free(data, nbytes);
  else
    device_mem::cuda_free(data, device.index);
}

std::shared_ptr<Storage> Storage::allocate(size_t nbytes, Device device) {
  auto s = std::make_shared<Storage>();
  s->nbytes = nbytes;
  s->device = device;
  if (nbytes == 0) return s;
  if (device.is_cpu()) {
    s->data = cpu_alloc(nbytes);
  } else {
    s->data = device_mem::cuda_malloc(nbytes, device.index);
  }
  return s;
}

std::shared_ptr<Storage> Storage::wrap(void* data, size_t nbytes, Device device,
                                       std::shared_ptr<void> keepalive) {
  auto s = std::make_shared<Storage>();
  s->data = data;
  s->nbytes = nbytes;
  s->device = device;
  s->owned = false;
  s->keepalive = std::move(keepalive);
  return s;
}

namespace device_mem {

#ifdef SSM_WITH_CUDA
// Through the caching allocator (core/cuda/allocator.cu).
void* cuda_malloc(size_t nbytes, int device) { return cuda::alloc(nbytes, device); }
void cuda_free(void* p, int device) { cuda::dealloc(p, device); }
#else
[[noreturn]] static void no_cuda() {
  SSM_FAIL("this build of ssm has no CUDA backend (configure with SSM_CUDA=ON and a CUDA toolkit); "
           "use device cpu");
}
void* cuda_malloc(size_t, int) { no_cuda(); }
void cuda_free(void*, int) {}
#endif

void copy(void* dst, Device dst_dev, const void* src, Device src_dev, size_t nbytes) {
  if (nbytes == 0) return;
  if (dst_dev.is_cpu() && src_dev.is_cpu()) {
    std::memcpy(dst, src, nbytes);
    return;
  }
#ifdef SSM_WITH_CUDA
  int gpu = dst_dev.is_cuda() ? dst_dev.index : src_dev.index;
  cuda::memcpy(dst, dst_dev.is_cuda(), src, src_dev.is_cuda(), nbytes, gpu);
#else
  no_cuda();
#endif
}

}  // namespace device_mem
}  // namespace ssm
