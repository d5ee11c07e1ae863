// The CUDA runtime seam: the few calls core/ needs, compiled only in CUDA builds.
// Kernels live beside their ops in ops/cuda/.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ssm::cuda {

int device_count();  // 0 when no GPU or no driver is present
void* malloc(size_t nbytes, int device);  // cudaMalloc, throws ssm::Error when out of memory
void free(void* p, int device);
// Copies nbytes; `device` is the GPU side's device, -1 the current one (copies between two
// GPUs: both are on it).
// Host <-> device copies of at least kStagedCopyMin bytes go through pinned staging blocks
// (core/cuda/transfer.cu): a host -> device copy is queued on the stream and returns once the
// source has been read, without waiting for the GPU; a device -> host copy returns once the data
// is in `dst`. Host <-> device copies throw while a CUDA graph is captured.
void memcpy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t nbytes,
            int device = -1);
inline constexpr size_t kStagedCopyMin = size_t(64) << 10;
inline constexpr size_t kStagingSlice = size_t(4) << 20;  // large copies are staged in slices
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

// ---- pinned host memory (core/cuda/pinned.cu) --------------------------------------------------
// Page-locked host blocks, which the GPU reads and writes by DMA at full speed and which async
// copies can use without the driver staging them. Blocks are rounded to a size class and cached
// when freed. A block that an async copy used (pinned_record_use) is handed out again only when
// that copy has completed: the oldest free block of the size is taken if its copies are done;
// otherwise a new block is page-locked, unless the allocator holds SSM_PINNED_CACHE_MB (default
// 1024) already, in which case it waits for the oldest. Thread-safe.
struct PinnedStats {
  size_t in_use = 0;         // bytes handed out (size classes) and not yet freed
  size_t peak_in_use = 0;
  size_t cached = 0;         // bytes on free lists
  uint64_t allocs = 0;       // calls to pinned_alloc
  uint64_t cache_hits = 0;   // served from a free list
  uint64_t waits = 0;        // cache hits that had to wait for a copy still in flight
  uint64_t host_allocs = 0;  // calls to cudaHostAlloc
  uint64_t host_frees = 0;   // calls to cudaFreeHost
  size_t cap = 0;            // bytes held (in use + cached) beyond which reuse waits
};

void* pinned_alloc(size_t nbytes);  // throws ssm::Error without a GPU or when out of memory
void pinned_free(void* p);          // p as returned by pinned_alloc
// After queuing an async copy that reads or writes the block containing address p on this
// thread's stream of `device` (the current device): the block is not reused before it completes.
void pinned_record_use(const void* p, int device);
void pinned_wait(const void* p);    // until the recorded copies of p's block have completed
PinnedStats pinned_stats();
void pinned_release_cache();        // waits for, then frees every cached block
void pinned_set_cap(size_t bytes);  // replaces SSM_PINNED_CACHE_MB (tests, tuning)

// For tests: when on, every block handed out is first filled with 0xff bytes, a NaN in every
// floating dtype, so an output element a kernel fails to write shows up as NaN.
void set_alloc_poison(bool on);

}  // namespace ssm::cuda
