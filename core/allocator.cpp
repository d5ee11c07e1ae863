#include "core/allocator.h"

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <vector>

#include "core/error.h"

namespace ssm {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kMinCached = size_t(1) << 16;

// Size classes: 4 per power of two (at most 25% slack).
size_t size_class(size_t n) {
  size_t p = kMinCached;
  while (p * 2 <= n) p *= 2;
  size_t step = p / 4;
  return (n + step - 1) / step * step;
}

struct Cache {
  std::mutex mu;
  std::map<size_t, std::vector<void*>> free;  // size class -> blocks
  AllocatorStats stats;
  size_t cap = 0;

  Cache() {
    size_t mb = 4096;
    if (const char* e = std::getenv("SSM_CPU_CACHE_MB")) mb = size_t(std::strtoull(e, nullptr, 10));
    cap = mb << 20;
  }
  void release() {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& [sz, blocks] : free)
      for (void* p : blocks) std::free(p);
    free.clear();
    stats.cached = 0;
  }
};

// Never destroyed: storages owned by static objects may be freed during static destruction.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

void* raw_alloc(size_t n) {
  void* p = std::aligned_alloc(kAlign, (n + kAlign - 1) / kAlign * kAlign);
  SSM_CHECK(p != nullptr, "out of memory: could not allocate ", n, " bytes on the CPU");
  return p;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  Cache& c = cache();
  size_t n = nbytes < kMinCached ? nbytes : size_class(nbytes);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.allocs++;
    c.stats.in_use += n;
    if (c.stats.in_use > c.stats.peak_in_use) c.stats.peak_in_use = c.stats.in_use;
    if (n >= kMinCached) {
      auto it = c.free.find(n);
      if (it != c.free.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        c.stats.cached -= n;
        c.stats.cache_hits++;
        return p;
      }
    }
  }
  return raw_alloc(n);
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  Cache& c = cache();
  size_t n = nbytes < kMinCached ? nbytes : size_class(nbytes);
  {
    std::lock_guard<std::mutex> lock(c.mu);
    c.stats.in_use -= n;
    if (n >= kMinCached && c.stats.cached + n <= c.cap) {
      c.free[n].push_back(p);
      c.stats.cached += n;
      return;
    }
  }
  std::free(p);
}

AllocatorStats cpu_allocator_stats() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.stats;
}

void cpu_allocator_release_cache() { cache().release(); }

size_t physical_memory() {
  long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
  return pages > 0 && page > 0 ? size_t(pages) * size_t(page) : 0;
}

}  // namespace ssm
