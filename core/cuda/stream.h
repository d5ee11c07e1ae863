// The stream every kernel, copy and library call of ssm is queued on (CUDA sources only).
//
// Normally the legacy default stream (0): all work is ordered, which the caching allocator relies
// on. While a CUDA graph is captured (core/cuda/graph.h) it is the capture stream, so the same
// code records into the graph instead. Launch as kernel<<<grid, block, smem, cuda::stream()>>>.
#pragma once

#include <cuda_runtime.h>

namespace ssm::cuda {

cudaStream_t stream();
// True while this thread captures a CUDA graph: code that would synchronise with the host (a
// readback, a blocking copy) must not run then.
bool capturing();

}  // namespace ssm::cuda
