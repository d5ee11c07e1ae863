#include "core/autograd.h"

#include <atomic>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "core/grad_accumulate.h"
#include "core/rng.h"

namespace ssm {

namespace {
constexpr const char* kOpNames[] = {
#define SSM_OP_NAME(name) #name,
    SSM_OP_LIST(SSM_OP_NAME)
#undef SSM_OP_NAME
};
constexpr OpId kOps[] = {
#define SSM_OP_ID(name) OpId::name,
    SSM_OP_LIST(SSM_OP_ID)
#undef SSM_OP_ID
};

thread_local bool g_grad_enabled = true;
std::atomic<uint64_t> g_next_seq{0};
}  // namespace

const char* op_name(OpId op) { return kOpNames[size_t(op)]; }
std::span<const OpId> all_ops() { return kOps; }

bool grad_enabled() { return g_grad_enabled; }
void set_grad_enabled(bool on) { g_grad_enabled = on; }

// ---- recording ----------------------------------------------------------------------------

bool Grads::needs(size_t i) const { return node->needs_input_grad(i); }

Tensor Grads::out_or_zeros(size_t i, const Tensor& like) const {
  if (out[i].defined()) return out[i];
  return Tensor::zeros(like.shape(), like.dtype(), like.device());
}

bool needs_grad(std::span<const Tensor> inputs) {
  if (!g_grad_enabled) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(std::initializer_list<Tensor> inputs) {
  return needs_grad(std::span<const Tensor>(inputs.begin(), inputs.size()));
}

namespace {
Edge edge_to(const Tensor& t) {
  Edge e;
  if (!t.defined() || !t.requires_grad()) return e;
  if (auto fn = t.grad_fn()) {
    e.fn = std::move(fn);
    e.input_nr = t.output_nr();
  } else {
    e.leaf = t.impl_ptr();
  }
  return e;
}
}  // namespace

void record(OpId op, std::span<const Tensor> inputs, std::span<Tensor> outputs, BackwardFn fn) {
  if (!needs_grad(inputs)) return;
  auto node = std::make_shared<Node>();
  node->op = op;
  node->num_outputs = uint32_t(outputs.size());
  node->seq = g_next_seq.fetch_add(1, std::memory_order_relaxed);
  node->fn = std::move(fn);
  node->next.reserve(inputs.size());
  for (const Tensor& t : inputs) node->next.push_back(edge_to(t));
  for (size_t i = 0; i < outputs.size(); ++i) {
    Tensor& out = outputs[i];
    if (!out.defined()) continue;
    TensorImpl* impl = out.impl();
    if (!impl->autograd) impl->autograd = std::make_unique<AutogradMeta>();
    impl->autograd->grad_fn = node;
    impl->autograd->output_nr = uint32_t(i);
  }
}

void record(OpId op, std::initializer_list<Tensor> inputs, Tensor& output, BackwardFn fn) {
  record(op, std::span<const Tensor>(inputs.begin(), inputs.size()), std::span<Tensor>(&output, 1),
         std::move(fn));
}

Saved::Saved(const Tensor& t) {
  if (!t.defined()) return;
  t_ = t.detach();
  version_ = t.storage()->version;
}

const Tensor& Saved::get() const {
  SSM_CHECK(!t_.defined() || t_.storage()->version == version_,
            "backward: a tensor saved for backward (", describe(t_),
            ") was modified in place after it was saved (version ", version_, " -> ",
            t_.storage()->version, "); clone it before writing to it");
  return t_;
}

bool is_16bit_cast_of_f32_leaf(const Tensor& t) {
  if (!t.defined() || (t.dtype() != DType::bf16 && t.dtype() != DType::f16)) return false;
  const auto fn = t.grad_fn();
  if (!fn || fn->op != OpId::cast || fn->next.size() != 1) return false;
  const Edge& e = fn->next[0];
  // A leaf behind a cast node is a dtype cast: Tensor::to(Device) moves leaves without a node.
  return e.leaf && e.leaf->dtype == DType::f32;
}

// ---- the engine ---------------------------------------------------------------------------

namespace {

void accumulate_leaf(const std::shared_ptr<TensorImpl>& leaf_impl, Tensor g) {
  Tensor leaf(leaf_impl);
  AutogradMeta& m = *leaf_impl->autograd;
  for (auto& hook : m.hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (g.dtype() != leaf.dtype()) g = g.to(leaf.dtype());
  SSM_CHECK(g.shape() == leaf.shape(), "backward: gradient of shape ", g.shape(),
            " for a leaf of shape ", leaf.shape());
  if (!m.grad.defined()) {
    // Keep the incoming buffer only when nothing else can see it and it is densely laid out.
    bool stealable = g.is_contiguous() && g.storage().use_count() == 1 && g.offset() == 0 &&
                     g.storage()->nbytes == size_t(g.numel()) * g.element_size();
    m.grad = stealable ? g : g.clone();
  } else {
    m.grad = add_grads(m.grad, g);
  }
  for (auto& hook : m.post_hooks) hook(m.grad);
}

struct NodeTask {
  int deps = 0;
  std::vector<Tensor> grads;  // one per output
};

}  // namespace

void run_backward(std::span<const Tensor> roots, std::span<const Tensor> grads, bool retain_graph) {
  SSM_CHECK(roots.size() == grads.size(), "backward: ", roots.size(), " roots but ", grads.size(),
            " gradients");
  NoGradGuard no_grad;  // backward functions do not build a graph of their own

  // Count, for every reachable node and leaf, how many edges point at it. A leaf is accumulated
  // once, after all its incoming gradients are summed, so its hooks see the total (as PyTorch's
  // AccumulateGrad node does).
  std::unordered_map<Node*, NodeTask> tasks;
  std::unordered_map<TensorImpl*, NodeTask> leaves;
  std::vector<Node*> stack;
  for (const Tensor& r : roots) {
    if (auto fn = r.grad_fn()) {
      if (tasks.emplace(fn.get(), NodeTask{}).second) stack.push_back(fn.get());
    }
  }
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next) {
      if (e.leaf) leaves[e.leaf.get()].deps++;
      if (!e.fn) continue;
      auto [it, inserted] = tasks.emplace(e.fn.get(), NodeTask{});
      it->second.deps++;
      if (inserted) stack.push_back(e.fn.get());
    }
  }
  auto add_to = [](Tensor& slot, const Tensor& g) { slot = slot.defined() ? add_grads(slot, g) : g; };
  auto leaf_done = [&](const std::shared_ptr<TensorImpl>& impl, NodeTask& t) {
    if (!t.grads.empty() && t.grads[0].defined()) accumulate_leaf(impl, t.grads[0]);
    t.grads.clear();
  };

  // Seed the roots.
  std::vector<std::shared_ptr<TensorImpl>> root_leaves;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    SSM_CHECK(r.requires_grad(), "backward: root ", i, " does not require grad");
    if (auto fn = r.grad_fn()) {
      NodeTask& t = tasks[fn.get()];
      if (t.grads.empty()) t.grads.resize(fn->num_outputs);
      add_to(t.grads[r.output_nr()], grads[i]);
    } else {
      NodeTask& t = leaves[r.impl()];
      if (t.grads.empty()) t.grads.resize(1);
      add_to(t.grads[0], grads[i]);
      root_leaves.push_back(r.impl_ptr());
    }
  }

  // Later nodes first: a node runs once all its consumers have run.
  auto later = [](Node* a, Node* b) { return a->seq < b->seq; };
  std::priority_queue<Node*, std::vector<Node*>, decltype(later)> ready(later);
  for (auto& [n, t] : tasks)
    if (t.deps == 0) ready.push(n);

  std::vector<Tensor> grad_in, prior;
  std::vector<const TensorImpl*> merged_into;  // per input: the prior a backward added into
  // The gradient accumulated so far for edge e, when the engine alone holds it (see Grads::prior).
  auto prior_of = [&](const Edge& e) -> Tensor {
    if (!e.valid()) return Tensor();
    auto it_n = e.fn ? tasks.find(e.fn.get()) : tasks.end();
    auto it_l = e.fn ? leaves.end() : leaves.find(e.leaf.get());
    NodeTask* t = e.fn ? (it_n == tasks.end() ? nullptr : &it_n->second)
                       : (it_l == leaves.end() ? nullptr : &it_l->second);
    const size_t slot = e.fn ? e.input_nr : 0;
    if (!t || t->grads.size() <= slot || !t->grads[slot].defined()) return Tensor();
    const Tensor& g = t->grads[slot];
    const bool alone = g.impl_ptr().use_count() == 1 && g.storage().use_count() == 1;
    return alone && g.is_contiguous() ? g : Tensor();
  };
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    NodeTask& task = tasks[n];
    if (task.grads.empty()) task.grads.resize(n->num_outputs);
    for (auto& [idx, hook] : n->pre_hooks) {
      if (!task.grads[idx].defined()) continue;
      Tensor r = hook(task.grads[idx]);
      if (r.defined()) task.grads[idx] = r;
    }
    grad_in.assign(n->next.size(), Tensor());
    bool any = false;
    for (const Tensor& g : task.grads) any |= g.defined();
    if (any) {
      SSM_CHECK(n->fn, "backward: trying to backward through the graph a second time (", n->name(),
                "); its saved tensors were freed. Pass retain_graph=true to the first backward.");
      prior.assign(n->next.size(), Tensor());
      bool any_prior = false;
      for (size_t i = 0; i < n->next.size(); ++i) {
        prior[i] = prior_of(n->next[i]);
        any_prior |= prior[i].defined();
      }
      Grads g{task.grads, grad_in, n};
      if (any_prior) g.prior = prior;
      n->fn(g);
    }
    merged_into.assign(n->next.size(), nullptr);
    for (size_t i = 0; i < prior.size(); ++i)
      if (prior[i].defined() && grad_in[i].defined() && prior[i].impl() == grad_in[i].impl())
        merged_into[i] = prior[i].impl();
    prior.clear();  // the engine's own references: a leaf may then take the buffer over
    if (!retain_graph) n->fn = nullptr;
    task.grads.clear();
    for (size_t i = 0; i < n->next.size(); ++i) {
      const Edge& e = n->next[i];
      if (!e.valid()) continue;
      NodeTask& t = e.fn ? tasks[e.fn.get()] : leaves[e.leaf.get()];
      if (grad_in[i].defined()) {
        if (t.grads.empty()) t.grads.resize(e.fn ? e.fn->num_outputs : 1);
        // Unless the backward added its gradient into the slot's tensor itself (Grads::prior).
        if (!merged_into[i]) add_to(t.grads[e.fn ? e.input_nr : 0], grad_in[i]);
      }
      if (--t.deps == 0) {
        if (e.fn)
          ready.push(e.fn.get());
        else
          leaf_done(e.leaf, t);
      }
    }
  }
  // Leaves that were roots themselves and are not reached through the graph.
  for (const auto& impl : root_leaves) {
    NodeTask& t = leaves[impl.get()];
    if (t.deps == 0) leaf_done(impl, t);
  }
}

// ---- checkpoint -----------------------------------------------------------------------------

std::vector<Tensor> checkpoint(const SegmentFn& fn, const std::vector<Tensor>& inputs) {
  GeneratorState rng = default_generator().state();
  std::vector<Tensor> outputs;
  {
    NoGradGuard ng;
    outputs = fn(inputs);
  }
  if (!grad_enabled()) return outputs;
  // The segment may use parameters that are not inputs: its outputs need a graph even when no
  // input requires grad, so the node is recorded unconditionally.
  auto node = std::make_shared<Node>();
  node->op = OpId::checkpoint;
  node->num_outputs = uint32_t(outputs.size());
  node->seq = g_next_seq.fetch_add(1, std::memory_order_relaxed);
  for (const Tensor& t : inputs) node->next.push_back(edge_to(t));
  std::vector<Saved> saved;
  for (const Tensor& t : inputs) saved.emplace_back(t);
  node->fn = [fn, saved, rng](Grads& g) {
    std::vector<Tensor> ins;
    for (size_t i = 0; i < saved.size(); ++i) {
      Tensor x = saved[i].get().detach();
      if (g.needs(i)) x.requires_grad_(true);
      ins.push_back(x);
    }
    GeneratorState now = default_generator().state();
    default_generator().set_state(rng);
    std::vector<Tensor> outs;
    {
      EnableGradGuard eg;
      outs = fn(ins);
    }
    default_generator().set_state(now);
    std::vector<Tensor> roots, grads;
    for (size_t i = 0; i < outs.size(); ++i) {
      if (!g.out[i].defined() || !outs[i].requires_grad()) continue;
      roots.push_back(outs[i]);
      grads.push_back(g.out[i]);
    }
    if (!roots.empty()) run_backward(roots, grads, false);
    for (size_t i = 0; i < ins.size(); ++i)
      if (g.needs(i)) g.in[i] = ins[i].grad();
  };
  for (size_t i = 0; i < outputs.size(); ++i) {
    // A fresh handle per output, so an output that is an input passed through never gets a
    // grad_fn attached to the caller's tensor.
    Tensor& out = outputs[i];
    out = out.detach();
    out.impl()->autograd = std::make_unique<AutogradMeta>();
    out.impl()->autograd->grad_fn = node;
    out.impl()->autograd->output_nr = uint32_t(i);
  }
  return outputs;
}

}  // namespace ssm
