// Copies between host and device memory (cuda::memcpy, see core/cuda/runtime.h).
//
// Host -> device goes through pinned staging blocks (core/cuda/pinned.cu). cudaMemcpy from
// pageable memory first waits for all work queued on the stream (the driver stages the source
// before it returns), so each batch the trainer moves to the GPU would stall the host until the
// previous step's kernels are done. Copying the source into a pinned block ourselves lets the
// DMA be queued with cudaMemcpyAsync and the call return at once; the caller may then free or
// overwrite its source, since the staging block holds the bytes, and the block is reused only
// after its DMA has completed. Large copies go in slices of kStagingSlice bytes: the host memcpy
// of one slice overlaps the DMA of the previous one, and staging memory stays bounded.
//
// Device -> host must wait for the data anyway, and stays a plain cudaMemcpy: staging it through
// pinned slices (the DMA of one overlapping the memcpy out of the previous) was slower on an H200
// for 64 MiB, 8.1 ms against 6.2 ms (ssm_gpu_bench copy), the driver's own staging being faster
// than our extra host memcpy.
//
// Copies smaller than kStagedCopyMin keep plain cudaMemcpy: the driver copies host-to-device
// blocks of up to 64 KB into its own staging memory and returns without waiting for the GPU (CUDA
// C++ Programming Guide, "Concurrent Execution between Host and Device"), and a small readback
// has the same latency either way, so staging them would only add a lock and an event.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"

namespace ssm::cuda {

namespace {

void check(cudaError_t e, const char* what) {
  SSM_CHECK(e == cudaSuccess, "CUDA error in ", what, ": ", cudaGetErrorString(e));
}

// One pinned staging block, given back to the pinned allocator when it goes out of scope (also
// when a copy throws).
class Staging {
 public:
  explicit Staging(size_t n) : p_(static_cast<char*>(pinned_alloc(n))) {}
  ~Staging() { pinned_free(p_); }
  Staging(const Staging&) = delete;
  Staging& operator=(const Staging&) = delete;
  char* data() const { return p_; }

 private:
  char* p_;
};

void to_device(char* dst, const char* src, size_t n, int device) {
  if (n < kStagedCopyMin) {
    check(cudaMemcpy(dst, src, n, cudaMemcpyHostToDevice), "cudaMemcpy (host to device)");
    return;
  }
  for (size_t off = 0; off < n; off += kStagingSlice) {
    size_t m = std::min(kStagingSlice, n - off);
    Staging s(m);
    std::memcpy(s.data(), src + off, m);
    check(cudaMemcpyAsync(dst + off, s.data(), m, cudaMemcpyHostToDevice, stream()),
          "cudaMemcpyAsync (host to device)");
    pinned_record_use(s.data(), device);  // freed now, reused only after this DMA
  }
}

void to_host(char* dst, const char* src, size_t n) {
  check(cudaMemcpy(dst, src, n, cudaMemcpyDeviceToHost), "cudaMemcpy (device to host)");
}

}  // namespace

void memcpy(void* dst, bool dst_on_gpu, const void* src, bool src_on_gpu, size_t nbytes, int device) {
  if (nbytes == 0) return;
  if (dst_on_gpu && src_on_gpu) {  // stays on the stream: may be captured
    check(cudaMemcpyAsync(dst, src, nbytes, cudaMemcpyDeviceToDevice, stream()), "cudaMemcpyAsync");
    return;
  }
  // Pageable host memory cannot take part in a graph, and a readback would have to wait for it.
  SSM_CHECK(!capturing(), "a host <-> device copy cannot be recorded in a CUDA graph");
  if (!dst_on_gpu && !src_on_gpu) {
    std::memcpy(dst, src, nbytes);
    return;
  }
  // The copies are queued on the legacy stream of the current device: make it the GPU side's,
  // so they are ordered with that device's kernels.
  if (device < 0)
    check(cudaGetDevice(&device), "cudaGetDevice");
  else
    check(cudaSetDevice(device), "cudaSetDevice");
  if (dst_on_gpu)
    to_device(static_cast<char*>(dst), static_cast<const char*>(src), nbytes, device);
  else
    to_host(static_cast<char*>(dst), static_cast<const char*>(src), nbytes);
}

}  // namespace ssm::cuda
