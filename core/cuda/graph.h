// CUDA graphs: record a fixed sequence of ssm calls once, replay it with one launch.
//
// capture(fn) runs fn while every kernel it queues is recorded instead of run (fn's tensors must
// already live on the device; fn must not read results back to the host). Memory that fn
// allocates comes from a pool private to the graph: blocks freed during the capture are reused
// only inside it, and nothing of the pool goes back to the shared cache while the graph lives, so
// replays never write memory that other tensors have been given since. Tensors fn returns stay
// valid and are rewritten by every replay. Used to decode one token of a whole model in one launch
// (infer/mamba_decoder.cpp). Plain C++ header: usable from .cpp files of CUDA builds.
#pragma once

#include <functional>
#include <memory>

namespace ssm::cuda {

class Graph {
 public:
  Graph();
  ~Graph();
  Graph(const Graph&) = delete;
  Graph& operator=(const Graph&) = delete;

  // Records fn on `device`. Throws ssm::Error (and leaves the graph empty) if capture fails,
  // e.g. because fn synchronised with the host.
  void capture(int device, const std::function<void()>& fn);
  void replay();  // queues the recorded work on the default stream (ordered after earlier work)
  bool ready() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace ssm::cuda
