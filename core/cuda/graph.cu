#include "core/cuda/graph.h"

#include <cuda_runtime.h>

#include "core/cuda/runtime.h"
#include "core/cuda/stream.h"
#include "core/error.h"

namespace ssm::cuda {

struct Graph::Impl {
  int device = 0;
  cudaStream_t capture_stream = nullptr;
  cudaGraph_t graph = nullptr;
  cudaGraphExec_t exec = nullptr;
  PrivatePool* pool = nullptr;

  void reset() {
    if (exec) cudaGraphExecDestroy(exec);
    if (graph) cudaGraphDestroy(graph);
    exec = nullptr;
    graph = nullptr;
    pool_destroy(pool);  // synchronises first
    pool = nullptr;
    if (capture_stream) cudaStreamDestroy(capture_stream);
    capture_stream = nullptr;
  }
};

Graph::Graph() : impl_(std::make_unique<Impl>()) {}
Graph::~Graph() { impl_->reset(); }

bool Graph::ready() const { return impl_->exec != nullptr; }

void Graph::capture(int device, const std::function<void()>& fn) {
  SSM_CHECK(!capturing(), "CUDA graph: captures cannot be nested");
  Impl& g = *impl_;
  g.reset();
  g.device = device;
  SSM_CHECK(cudaSetDevice(device) == cudaSuccess, "CUDA graph: cudaSetDevice failed");
  // Everything queued before (e.g. the state the graph will read) must be done: the capture
  // stream does not wait for the legacy default stream.
  SSM_CHECK(cudaDeviceSynchronize() == cudaSuccess, "CUDA graph: device synchronisation failed");
  SSM_CHECK(cudaStreamCreateWithFlags(&g.capture_stream, cudaStreamNonBlocking) == cudaSuccess,
            "CUDA graph: cannot create the capture stream");
  g.pool = pool_create(device);
  // Relaxed: cudaMalloc (a pool growing during the capture) is allowed.
  SSM_CHECK(cudaStreamBeginCapture(g.capture_stream, cudaStreamCaptureModeRelaxed) == cudaSuccess,
            "CUDA graph: cudaStreamBeginCapture failed");
  set_capture_stream(g.capture_stream);
  pool_begin(g.pool);
  std::string failure;
  try {
    fn();
  } catch (const std::exception& e) {
    failure = e.what();
  }
  pool_end();
  set_capture_stream(nullptr);
  cudaGraph_t graph = nullptr;
  cudaError_t e = cudaStreamEndCapture(g.capture_stream, &graph);
  g.graph = graph;
  if (failure.empty() && e != cudaSuccess) failure = std::string("cudaStreamEndCapture: ") + cudaGetErrorString(e);
  if (failure.empty() && cudaGraphInstantiate(&g.exec, g.graph, 0) != cudaSuccess)
    failure = "cudaGraphInstantiate failed";
  if (!failure.empty()) {
    cudaGetLastError();
    g.reset();
    SSM_FAIL("CUDA graph capture failed: ", failure);
  }
}

void Graph::replay() {
  SSM_CHECK(ready(), "CUDA graph: replay before a successful capture");
  cudaError_t e = cudaGraphLaunch(impl_->exec, 0);
  SSM_CHECK(e == cudaSuccess, "CUDA graph: cudaGraphLaunch failed: ", cudaGetErrorString(e));
}

}  // namespace ssm::cuda
