// Module: a tree of named parameters with PyTorch-style dotted paths.
//
// A module registers its parameters and sub-modules by name; named_parameters() walks the tree
// in registration order and yields paths such as "backbone.layers.3.mixer.A_log", which are the
// keys of state_dict() and of the safetensors checkpoints.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ssm::nn {

class Module {
 public:
  virtual ~Module() = default;

  std::vector<std::pair<std::string, Tensor>> named_parameters() const;
  std::vector<Tensor> parameters() const;
  int64_t num_parameters() const;

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  std::map<std::string, Tensor> state_dict() const;
  // Copies values into the parameters (converting dtype). Errors name every missing or
  // unexpected key (when strict) and every shape mismatch.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  void zero_grad();

  // Moves every parameter to `device` in place (like torch's Module.to): the parameter tensors
  // keep their identity, so modules, optimizers and views made later see the moved data. Call it
  // before building an optimizer (its state is made on the parameters' device); gradients are
  // dropped.
  void to(Device device);
  // Where the parameters live (the CPU for a module without parameters).
  Device device() const;

 protected:
  // The tensor becomes a leaf that requires grad.
  Tensor register_parameter(const std::string& name, Tensor t);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    children_.emplace_back(name, m);
    return m;
  }

 private:
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Tensor>>& out) const;
  const Tensor* first_parameter() const;  // in named_parameters() order; null when none

  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  bool training_ = true;
};

// Throws ssm::Error, prefixed by `where`, naming the first parameter that holds NaN or an
// infinity: its name, the value and the element's flat index. Weights like that give a loss of
// nan and text of noise, so a command that loads them says so instead.
void check_finite_parameters(const Module& m, const std::string& where);

}  // namespace ssm::nn
