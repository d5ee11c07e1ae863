// Caching allocator for pinned (page-locked) host memory (see core/cuda/runtime.h for the
// contract). cudaHostAlloc and cudaFreeHost are slow (they map pages for the GPU and may
// synchronise the device), so blocks are kept on free lists by size class, like device memory.
// Unlike device memory, the host can touch a block while the GPU still reads or writes it; so
// every async copy that uses a block records an event on its stream, and a freed block is handed
// out again only once those events have completed.
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/cuda/runtime.h"
#include "core/cuda/size_class.h"
#include "core/cuda/stream.h"
#include "core/error.h"

namespace ssm::cuda {

namespace {

// The last async copy on `device` that used the block (re-recorded by every later one: on one
// stream, the latest record completes after all earlier uses).
struct Use {
  int device = 0;
  cudaEvent_t event = nullptr;
};

struct Block {
  char* p = nullptr;
  size_t size = 0;  // size class
  bool live = false;
  std::vector<Use> uses;
};

struct PinnedAllocator {
  std::mutex mu;
  std::map<uintptr_t, Block*> blocks;             // every block, by start address
  std::map<size_t, std::deque<Block*>> free;      // size class -> blocks, oldest release first
  PinnedStats stats;
  size_t cap = 0;

  PinnedAllocator() {
    size_t mb = 1024;
    if (const char* e = std::getenv("SSM_PINNED_CACHE_MB")) mb = size_t(std::strtoull(e, nullptr, 10));
    cap = mb << 20;
  }

  // Has every recorded use of b completed? (lock held)
  static bool ready(const Block& b) {
    for (const Use& u : b.uses) {
      cudaError_t e = cudaEventQuery(u.event);
      if (e == cudaErrorNotReady) {
        cudaGetLastError();  // not an error: leave no sticky state behind
        return false;
      }
      SSM_CHECK(e == cudaSuccess, "pinned host memory: a copy that used the block failed: ",
                cudaGetErrorString(e));
    }
    return true;
  }

  static void wait(const Block& b) {
    for (const Use& u : b.uses) {
      cudaError_t e = cudaEventSynchronize(u.event);
      SSM_CHECK(e == cudaSuccess, "pinned host memory: a copy that used the block failed: ",
                cudaGetErrorString(e));
    }
  }

  // The block that contains address p, or null (lock held).
  Block* find(const void* p) {
    auto a = reinterpret_cast<uintptr_t>(p);
    auto it = blocks.upper_bound(a);
    if (it == blocks.begin()) return nullptr;
    --it;
    Block* b = it->second;
    return a < it->first + b->size ? b : nullptr;
  }

  // Waits for and frees every cached block (lock held).
  void release() {
    for (auto& [sz, q] : free)
      for (Block* b : q) {
        wait(*b);
        for (Use& u : b->uses) cudaEventDestroy(u.event);
        cudaFreeHost(b->p);
        blocks.erase(reinterpret_cast<uintptr_t>(b->p));
        delete b;
        stats.host_frees++;
      }
    free.clear();
    stats.cached = 0;
  }
};

// Never destroyed: storages owned by static objects may be freed during static destruction.
PinnedAllocator& pinned() {
  static PinnedAllocator* a = new PinnedAllocator;
  return *a;
}

void* host_alloc(size_t n) {
  SSM_CHECK(device_count() > 0, "pinned host memory needs a CUDA device, and none is visible");
  void* p = nullptr;
  // Portable: the block may feed copies to any device, not only the current one.
  cudaError_t e = cudaHostAlloc(&p, n, cudaHostAllocPortable);
  if (e != cudaSuccess) {
    cudaGetLastError();
    p = nullptr;
  }
  return p;
}

}  // namespace

void* pinned_alloc(size_t nbytes) {
  PinnedAllocator& a = pinned();
  size_t n = size_class(nbytes == 0 ? 1 : nbytes);
  Block* b = nullptr;
  bool must_wait = false;
  {
    std::lock_guard<std::mutex> lock(a.mu);
    a.stats.allocs++;
    auto it = a.free.find(n);
    if (it != a.free.end() && !it->second.empty()) {
      // Uses are recorded in stream order, so the block released first is the first to be done.
      Block* oldest = it->second.front();
      bool done = PinnedAllocator::ready(*oldest);
      bool over_cap = a.stats.in_use + a.stats.cached + n > a.cap;
      if (done || over_cap) {
        b = oldest;
        it->second.pop_front();
        must_wait = !done;
        a.stats.cached -= n;
        a.stats.cache_hits++;
        if (must_wait) a.stats.waits++;
      }
    }
    if (b) {
      b->live = true;
      a.stats.in_use += n;
      if (a.stats.in_use > a.stats.peak_in_use) a.stats.peak_in_use = a.stats.in_use;
    }
  }
  if (b) {
    // Over the cap, with this size's blocks all in flight: wait for the oldest rather than pin
    // more memory. It is already marked live, so no other thread takes it meanwhile.
    if (must_wait) PinnedAllocator::wait(*b);
    return b->p;
  }
  // A new block, allocated outside the lock: cudaHostAlloc takes milliseconds for large blocks.
  void* p = host_alloc(n);
  if (!p) {
    {
      std::lock_guard<std::mutex> lock(a.mu);
      a.release();  // give the cached blocks back and try once more
    }
    p = host_alloc(n);
  }
  SSM_CHECK(p != nullptr, "out of pinned host memory: could not page-lock ", n, " bytes");
  std::lock_guard<std::mutex> lock(a.mu);
  b = new Block;
  b->p = static_cast<char*>(p);
  b->size = n;
  b->live = true;
  a.blocks[reinterpret_cast<uintptr_t>(p)] = b;
  a.stats.host_allocs++;
  a.stats.in_use += n;
  if (a.stats.in_use > a.stats.peak_in_use) a.stats.peak_in_use = a.stats.in_use;
  return p;
}

void pinned_free(void* p) {
  if (!p) return;
  PinnedAllocator& a = pinned();
  std::lock_guard<std::mutex> lock(a.mu);
  auto it = a.blocks.find(reinterpret_cast<uintptr_t>(p));
  SSM_CHECK(it != a.blocks.end() && it->second->live,
            "pinned host memory: freeing a block it did not hand out");
  Block* b = it->second;
  b->live = false;
  a.free[b->size].push_back(b);
  a.stats.in_use -= b->size;
  a.stats.cached += b->size;
}

void pinned_record_use(const void* p, int device) {
  PinnedAllocator& a = pinned();
  std::lock_guard<std::mutex> lock(a.mu);
  Block* b = a.find(p);
  SSM_CHECK(b && b->live, "pinned host memory: recording a copy on memory it did not hand out");
  Use* use = nullptr;
  for (Use& u : b->uses)
    if (u.device == device) use = &u;
  if (!use) {
    // Events belong to the device current when they are created: the caller has set `device`.
    Use u;
    u.device = device;
    SSM_CHECK(cudaEventCreateWithFlags(&u.event, cudaEventDisableTiming) == cudaSuccess,
              "pinned host memory: cudaEventCreate failed");
    b->uses.push_back(u);
    use = &b->uses.back();
  }
  cudaError_t e = cudaEventRecord(use->event, stream());
  SSM_CHECK(e == cudaSuccess, "pinned host memory: cudaEventRecord failed: ", cudaGetErrorString(e));
}

void pinned_wait(const void* p) {
  PinnedAllocator& a = pinned();
  std::vector<cudaEvent_t> events;
  {
    std::lock_guard<std::mutex> lock(a.mu);
    Block* b = a.find(p);
    SSM_CHECK(b && b->live, "pinned host memory: waiting on memory it did not hand out");
    for (const Use& u : b->uses) events.push_back(u.event);
  }
  // Outside the lock: other threads' allocations need not wait for this copy. The events stay
  // valid: only release() destroys them, and it never touches a live block.
  for (cudaEvent_t e : events) {
    cudaError_t r = cudaEventSynchronize(e);
    SSM_CHECK(r == cudaSuccess, "CUDA error in a copy to pinned host memory: ", cudaGetErrorString(r));
  }
}

PinnedStats pinned_stats() {
  PinnedAllocator& a = pinned();
  std::lock_guard<std::mutex> lock(a.mu);
  PinnedStats s = a.stats;
  s.cap = a.cap;
  return s;
}

void pinned_release_cache() {
  PinnedAllocator& a = pinned();
  std::lock_guard<std::mutex> lock(a.mu);
  a.release();
}

void pinned_set_cap(size_t bytes) {
  PinnedAllocator& a = pinned();
  std::lock_guard<std::mutex> lock(a.mu);
  a.cap = bytes;
}

}  // namespace ssm::cuda
