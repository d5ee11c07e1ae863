// Caching allocator for device memory (see core/cuda/runtime.h for the contract).
#include <cuda_runtime.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "core/cuda/runtime.h"
#include "core/cuda/size_class.h"
#include "core/error.h"

namespace ssm::cuda {

namespace {

constexpr int kMaxDevices = 64;

struct DeviceCache {
  std::map<size_t, std::vector<void*>> free;  // size class -> blocks
  std::unordered_map<void*, size_t> live;     // block -> size class
  AllocatorStats stats;
};

}  // namespace

// A CUDA graph's memory: blocks it handed out during capture return here, never to the shared
// cache, while the pool exists.
struct PrivatePool {
  int device = 0;
  std::map<size_t, std::vector<void*>> free;
  std::unordered_map<void*, size_t> blocks;  // every block the pool owns
};

namespace {

thread_local PrivatePool* t_pool = nullptr;  // the pool allocations of this thread come from

struct Allocator {
  std::mutex mu;
  DeviceCache dev[kMaxDevices];
  bool enabled = true;
  bool poison = false;
  std::unordered_map<void*, PrivatePool*> owner;  // blocks that belong to a private pool

  Allocator() {
    if (const char* e = std::getenv("SSM_CUDA_CACHE")) enabled = std::string(e) != "0";
  }

  // cudaFree of every cached block on `d` (lock held).
  void release(int d) {
    DeviceCache& c = dev[d];
    for (auto& [sz, blocks] : c.free)
      for (void* p : blocks) {
        cuda::free(p, d);
        c.stats.cuda_frees++;
      }
    c.free.clear();
    c.stats.cached = 0;
  }
};

// Never destroyed: storages owned by static objects may be freed during static destruction.
Allocator& allocator() {
  static Allocator* a = new Allocator;
  return *a;
}

DeviceCache& cache_of(Allocator& a, int device) {
  SSM_CHECK(device >= 0 && device < kMaxDevices, "cuda:", device, " is out of range");
  return a.dev[device];
}

}  // namespace

void* alloc(size_t nbytes, int device) {
  Allocator& a = allocator();
  size_t n = size_class(nbytes == 0 ? 1 : nbytes);
  void* p = nullptr;
  bool poison = false;
  {
    std::lock_guard<std::mutex> lock(a.mu);
    DeviceCache& c = cache_of(a, device);
    poison = a.poison;
    PrivatePool* pool = t_pool && t_pool->device == device ? t_pool : nullptr;
    auto& free = pool ? pool->free : c.free;
    auto it = free.find(n);
    if (pool && it != free.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      c.stats.cache_hits++;
    } else if (!pool && a.enabled && it != free.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      c.stats.cached -= n;
      c.stats.cache_hits++;
    } else {
      try {
        p = cuda::malloc(n, device);
      } catch (const Error&) {
        a.release(device);  // give the cached blocks back to the driver and try once more
        p = cuda::malloc(n, device);
      }
      c.stats.cuda_mallocs++;
      if (pool) {
        pool->blocks[p] = n;
        a.owner[p] = pool;
      }
    }
    c.live[p] = n;
    c.stats.allocs++;
    c.stats.in_use += n;
    if (c.stats.in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.in_use;
  }
  if (poison) {
    cudaSetDevice(device);
    fill_bytes(p, 0xff, n);
  }
  return p;
}

void dealloc(void* p, int device) {
  if (!p) return;
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  DeviceCache& c = cache_of(a, device);
  auto it = c.live.find(p);
  SSM_CHECK(it != c.live.end(), "CUDA allocator: freeing a block it did not hand out");
  size_t n = it->second;
  c.live.erase(it);
  c.stats.in_use -= n;
  if (auto o = a.owner.find(p); o != a.owner.end()) {
    o->second->free[n].push_back(p);
  } else if (a.enabled) {
    c.free[n].push_back(p);
    c.stats.cached += n;
  } else {
    cuda::free(p, device);
    c.stats.cuda_frees++;
  }
}

AllocatorStats allocator_stats(int device) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  return cache_of(a, device).stats;
}

void allocator_release_cache() {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  for (int d = 0; d < kMaxDevices; ++d)
    if (!a.dev[d].free.empty()) a.release(d);
}

void allocator_reset_peak(int device) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  DeviceCache& c = cache_of(a, device);
  c.stats.peak_in_use = c.stats.in_use;
}

PrivatePool* pool_create(int device) {
  auto* pool = new PrivatePool;
  pool->device = device;
  return pool;
}

void pool_begin(PrivatePool* pool) { t_pool = pool; }
void pool_end() { t_pool = nullptr; }

void pool_destroy(PrivatePool* pool) {
  if (!pool) return;
  cudaSetDevice(pool->device);
  cudaDeviceSynchronize();  // no replay may still be writing the blocks
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  DeviceCache& c = cache_of(a, pool->device);
  for (auto& [sz, blocks] : pool->free)
    for (void* p : blocks) {
      c.free[sz].push_back(p);  // free blocks join the shared cache
      c.stats.cached += sz;
    }
  // Blocks still held by tensors become ordinary blocks: freed later, they go to the cache.
  for (auto& [p, sz] : pool->blocks) a.owner.erase(p);
  if (t_pool == pool) t_pool = nullptr;
  delete pool;
}

void set_alloc_poison(bool on) {
  Allocator& a = allocator();
  std::lock_guard<std::mutex> lock(a.mu);
  a.poison = on;
}

}  // namespace ssm::cuda
