// AdamW (Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019) with parameter
// groups, as torch.optim.AdamW:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)  and  p -= lr * wd * p  (decoupled)
// Moments are float32 (float64 for float64 parameters). One fused multi-tensor update per step
// (ops/optim.h): a single kernel launch on CUDA. Parameters may be CPU or CUDA tensors.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/schema.h"
#include "core/tensor.h"

namespace ssm::train {

struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.01;
};

struct ParamGroup {
  std::vector<Tensor> params;
  double weight_decay = 0.01;
  double lr_scale = 1.0;  // this group's learning rate is lr * lr_scale
  std::string name;
};

class AdamW {
 public:
  AdamW(std::vector<ParamGroup> groups, AdamWOptions opt);

  // Applies one update from the parameters' .grad (parameters without a gradient are skipped).
  void step();
  void zero_grad();
  void set_lr(double lr) { opt_.lr = lr; }
  double lr() const { return opt_.lr; }
  int64_t steps() const { return step_; }
  const std::vector<ParamGroup>& groups() const { return groups_; }

  // The optimizer state, for checkpoints: each parameter with its two moment buffers (the
  // buffers are live: copying into them restores a state). Order: groups, then parameters.
  struct Slot {
    Tensor param, exp_avg, exp_avg_sq;
  };
  std::vector<Slot> slots() const;
  void set_steps(int64_t steps) { step_ = steps; }

 private:
  struct State {
    Tensor m, v;
  };
  std::vector<ParamGroup> groups_;
  std::vector<std::vector<State>> state_;
  AdamWOptions opt_;
  int64_t step_ = 0;
};

// ---- the optimizer section of a training config ------------------------------------------------

struct ParamGroupConfig {
  std::string pattern;                 // glob over parameter names, see matches_pattern()
  double lr_scale = 1.0;               // the group's learning rate is optimizer.lr * lr_scale
  std::optional<double> weight_decay;  // absent: optimizer.weight_decay (and no_decay applies)

  bool operator==(const ParamGroupConfig&) const = default;
  static const schema::Section<ParamGroupConfig>& section();
};

enum class OptimizerName { adamw };

struct OptimizerConfig {
  OptimizerName name = OptimizerName::adamw;
  double lr = 1e-3;
  std::vector<double> betas = {0.9, 0.999};
  double eps = 1e-8;
  double weight_decay = 0.01;
  std::vector<std::string> no_decay = {"*.bias", "*norm*.weight", "*.A_log", "*.D"};
  std::vector<ParamGroupConfig> param_groups;

  bool operator==(const OptimizerConfig&) const = default;
  static const schema::Section<OptimizerConfig>& section();
};

// Glob match of a whole parameter name: '*' matches any run of characters (dots included), '?'
// one character; e.g. "*.bias", "*norm*.weight", "backbone.layers.0.*".
bool matches_pattern(const std::string& pattern, const std::string& name);

// AdamW groups from the config: the first param_groups pattern that matches a name sets its lr
// scale (and weight decay if given); otherwise no_decay patterns give it no decay. Parameters
// with the same (lr scale, weight decay) share a group.
std::vector<ParamGroup> param_groups(const std::vector<std::pair<std::string, Tensor>>& named,
                                     const OptimizerConfig& oc);

// Scales all gradients so their global L2 norm is at most max_norm; returns the norm before.
double clip_grad_norm(const std::vector<Tensor>& params, double max_norm);

}  // namespace ssm::train
