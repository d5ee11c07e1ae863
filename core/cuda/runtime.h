// The CUDA runtime seam: the few calls core/ needs, compiled only in CUDA builds.
// Kernels live beside their ops in ops/cuda/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ssm::cuda {

int device_count();  // 0 when no GPU or no driver is present
void* malloc(size_t nbytes, int device);  // cudaMalloc, throws ssm::Error when out of memory
void free(void* p, int device);
void memcpy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t nbytes);
void fill_bytes(void* p, unsigned char value, size_t nbytes);  // queued on cuda::stream()
// Makes `s` (a cudaStream_t) this thread's stream for graph capture; null restores the default.
void set_capture_stream(void* s);

// Throws ssm::Error naming `what` if the last kernel launch failed (bad configuration, or an
// earlier asynchronous fault surfacing now).
void check_launch(const char* what);
// The largest dynamic shared memory a block may opt in to on `device`.
size_t max_shared_per_block(int device);

// ---- caching allocator (core/cuda/allocator.cu) -----------------------------------------------
// Device memory for tensors. Blocks are rounded to a size class and kept on a per-device free list
// when released, so a training step that frees and re-allocates the same sizes does no cudaMalloc
// (which synchronises the device) after the first step. Every kernel of ssm runs on the legacy
// default stream (or, while a CUDA graph is captured, into that graph with a private pool, below),
// so a block handed out again is only touched by work queued behind the work that last used it:
// one free list per device is enough. When cudaMalloc fails, the cache is released
// and the allocation retried once. SSM_CUDA_CACHE=0 disables the cache (every free is a cudaFree).
struct AllocatorStats {
  size_t in_use = 0;         // bytes handed out (size classes) and not yet released
  size_t peak_in_use = 0;
  size_t cached = 0;         // bytes on free lists
  uint64_t allocs = 0;       // calls to alloc
  uint64_t cache_hits = 0;   // served from a free list
  uint64_t cuda_mallocs = 0; // calls to cudaMalloc
  uint64_t cuda_frees = 0;   // calls to cudaFree
};

void* alloc(size_t nbytes, int device);
void dealloc(void* p, int device);
AllocatorStats allocator_stats(int device = 0);
void allocator_release_cache();  // cudaFree of every cached block, all devices
void allocator_reset_peak(int device = 0);
// Private pools for CUDA graphs (core/cuda/graph.h): between pool_begin and pool_end, this
// thread's allocations on the pool's device come from the pool; its blocks always return to it.
// pool_destroy synchronises the device, then hands the pool's free blocks to the shared cache.
struct PrivatePool;
PrivatePool* pool_create(int device);
void pool_begin(PrivatePool* pool);
void pool_end();
void pool_destroy(PrivatePool* pool);

// For tests: when on, every block handed out is first filled with 0xff bytes, a NaN in every
// floating dtype, so an output element a kernel fails to write shows up as NaN.
void set_alloc_poison(bool on);

}  // namespace ssm::cuda
