// CPU memory: a caching allocator for large blocks.
//
// Freeing and re-allocating the same large sizes every step (activations, gradients) would make
// glibc return the memory to the kernel and fault every page back in on the next use, which costs
// as much as the arithmetic for elementwise ops. Blocks of at least kMinCached bytes are rounded
// to a size class and kept on a free list when released, up to a cap on the bytes held
// (SSM_CPU_CACHE_MB, default 4096). Smaller blocks go straight to aligned_alloc.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ssm {

struct AllocatorStats {
  size_t in_use = 0;       // bytes handed out and not yet released
  size_t peak_in_use = 0;
  size_t cached = 0;       // bytes on free lists
  uint64_t allocs = 0;     // calls to cpu_alloc
  uint64_t cache_hits = 0; // served from a free list
};

void* cpu_alloc(size_t nbytes);
void cpu_free(void* p, size_t nbytes);
AllocatorStats cpu_allocator_stats();
void cpu_allocator_release_cache();  // frees every cached block

// This machine's physical memory in bytes; 0 when the system does not say.
size_t physical_memory();

}  // namespace ssm
