// Define-by-run reverse-mode autograd.
//
// Every differentiable op records a Node when grad mode is on and an input requires grad. A Node
// has one Edge per input (to the input's grad_fn, or to the leaf it accumulates into) and a
// backward function that maps output gradients to input gradients. The op list (core/op_list.h)
// names every kind of Node: record() takes an OpId, so no op can create a Node that the gradcheck
// registry does not know about.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/op_list.h"
#include "core/tensor.h"

namespace ssm {

enum class OpId : uint16_t {
#define SSM_OP_ENUM(name) name,
  SSM_OP_LIST(SSM_OP_ENUM)
#undef SSM_OP_ENUM
};

const char* op_name(OpId op);
std::span<const OpId> all_ops();

// ---- grad mode --------------------------------------------------------------------------------
bool grad_enabled();
void set_grad_enabled(bool on);

class NoGradGuard {
 public:
  NoGradGuard() : prev_(grad_enabled()) { set_grad_enabled(false); }
  ~NoGradGuard() { set_grad_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

class EnableGradGuard {
 public:
  EnableGradGuard() : prev_(grad_enabled()) { set_grad_enabled(true); }
  ~EnableGradGuard() { set_grad_enabled(prev_); }
  EnableGradGuard(const EnableGradGuard&) = delete;
  EnableGradGuard& operator=(const EnableGradGuard&) = delete;

 private:
  bool prev_;
};

// ---- graph ------------------------------------------------------------------------------------
struct Edge {
  std::shared_ptr<Node> fn;            // interior: the producer's node ...
  uint32_t input_nr = 0;               // ... and which of its outputs this is
  std::shared_ptr<TensorImpl> leaf;    // leaf: the tensor whose .grad receives the gradient
  bool valid() const { return fn || leaf; }
};

// What a backward function sees: output gradients (undefined when an output got none) and slots
// for input gradients (leave undefined where an input needs none).
struct Grads {
  std::span<const Tensor> out;
  std::span<Tensor> in;
  const Node* node;
  // prior[i] (empty span, or one per input): the gradient that the input's other consumers have
  // already passed back, where the engine holds the only reference to it (contiguous, of the
  // input's shape); else undefined. A backward function may add its own gradient into prior[i] in
  // place and return prior[i] itself in in[i]: the engine then keeps it rather than adding the
  // two (linear does so in the dx GEMM's epilogue, for a tensor that feeds a product and more).
  std::span<const Tensor> prior = {};
  bool needs(size_t i) const;
  // Gradient of output i, or zeros shaped like `like` when that output received none.
  Tensor out_or_zeros(size_t i, const Tensor& like) const;
};

using BackwardFn = std::function<void(Grads&)>;

struct Node {
  OpId op;
  std::vector<Edge> next;  // one per input
  uint32_t num_outputs = 1;
  uint64_t seq = 0;        // creation order: later nodes run first
  std::vector<std::pair<uint32_t, GradHook>> pre_hooks;  // hooks on non-leaf outputs
  BackwardFn fn;           // empty once released

  const char* name() const { return op_name(op); }
  bool needs_input_grad(size_t i) const { return i < next.size() && next[i].valid(); }
};

// True when grad mode is on and any defined input requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(std::span<const Tensor> inputs);

// Whether t is a 16-bit cast (Tensor::to) of a float32 leaf, as autocast makes of master weights:
// its gradient is cast to float32 on the way to the leaf, so an op may compute that gradient in
// float32 directly (the cast's backward then passes it through unchanged).
bool is_16bit_cast_of_f32_leaf(const Tensor& t);

// Attaches a new Node to `outputs` (which must be fresh results of the op) if needs_grad(inputs).
void record(OpId op, std::span<const Tensor> inputs, std::span<Tensor> outputs, BackwardFn fn);
void record(OpId op, std::initializer_list<Tensor> inputs, Tensor& output, BackwardFn fn);

// A tensor saved for backward: detached (so no reference cycle through its grad_fn) and tagged
// with its storage version, so backward fails clearly if it was modified in place meanwhile.
class Saved {
 public:
  Saved() = default;
  explicit Saved(const Tensor& t);
  const Tensor& get() const;  // throws if the storage was written since it was saved
  bool defined() const { return t_.defined(); }

 private:
  Tensor t_;
  uint32_t version_ = 0;
};

// Runs backward from `roots` with the given gradients (same shapes), accumulating into leaves.
void run_backward(std::span<const Tensor> roots, std::span<const Tensor> grads, bool retain_graph);

// Gradient checkpointing: runs `fn(inputs)` without recording its graph; in backward, runs it
// again with grad on (and the default RNG generator rewound, so dropout masks repeat) and
// backpropagates through the recomputed graph. Parameters used inside `fn` receive gradients.
using SegmentFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;
std::vector<Tensor> checkpoint(const SegmentFn& fn, const std::vector<Tensor>& inputs);

}  // namespace ssm
