#include "train/adamw.h"

#include <cmath>
#include <map>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/error.h"
#include "ops/optim.h"

namespace ssm::train {

// ---- config ---------------------------------------------------------------------------------------

const schema::Section<ParamGroupConfig>& ParamGroupConfig::section() {
  static const schema::Section<ParamGroupConfig> s = [] {
    schema::Section<ParamGroupConfig> s("param_groups");
    s.add("pattern", &ParamGroupConfig::pattern, "glob over parameter names");
    s.add("lr_scale", &ParamGroupConfig::lr_scale, schema::above(0), "multiplies optimizer.lr");
    s.add("weight_decay", &ParamGroupConfig::weight_decay, schema::at_least(0),
          "replaces optimizer.weight_decay and no_decay");
    return s;
  }();
  return s;
}

const schema::Section<OptimizerConfig>& OptimizerConfig::section() {
  static const schema::Section<OptimizerConfig> s = [] {
    schema::Section<OptimizerConfig> s("optimizer");
    s.add_choice("name", &OptimizerConfig::name, {"adamw"},
                 "optimizer (AdamW with decoupled weight decay)")
        .aliases = {"type"};
    s.add("lr", &OptimizerConfig::lr, schema::above(0), "peak learning rate").aliases = {
        "learning_rate"};
    auto& betas = s.add("betas", &OptimizerConfig::betas, schema::Range{0, 1, false, true},
                        "AdamW [beta1, beta2]");
    betas.list_size = 2;
    betas.aliases = {"beta1", "beta2"};
    s.add("eps", &OptimizerConfig::eps, schema::above(0), "AdamW epsilon").aliases = {"epsilon"};
    s.add("weight_decay", &OptimizerConfig::weight_decay, schema::at_least(0),
          "decoupled weight decay");
    s.add("no_decay", &OptimizerConfig::no_decay,
          "parameter name patterns without weight decay ('*' any run, '?' one character; quote "
          "them in YAML): biases, norms, A_log and D by default");
    s.add_records("param_groups", &OptimizerConfig::param_groups, ParamGroupConfig::section(),
                  "pattern",
                  "a parameter takes the first group whose pattern matches its name; lr_scale "
                  "multiplies lr, weight_decay (optional) replaces optimizer.weight_decay and "
                  "no_decay for the group");
    return s;
  }();
  return s;
}

bool matches_pattern(const std::string& pattern, const std::string& name) {
  // Iterative glob with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == name[n])) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

std::vector<ParamGroup> param_groups(const std::vector<std::pair<std::string, Tensor>>& named,
                                     const OptimizerConfig& oc) {
  std::map<std::pair<double, double>, ParamGroup> groups;
  for (auto& [name, p] : named) {
    double scale = 1.0, wd = oc.weight_decay;
    bool explicit_wd = false;
    for (const ParamGroupConfig& g : oc.param_groups)
      if (matches_pattern(g.pattern, name)) {
        scale = g.lr_scale;
        if (g.weight_decay) {
          wd = *g.weight_decay;
          explicit_wd = true;
        }
        break;
      }
    if (!explicit_wd)
      for (const std::string& pat : oc.no_decay)
        if (matches_pattern(pat, name)) wd = 0.0;
    ParamGroup& g = groups[{scale, wd}];
    g.lr_scale = scale;
    g.weight_decay = wd;
    g.params.push_back(p);
    g.name += (g.name.empty() ? "" : ",") + name;
  }
  std::vector<ParamGroup> out;
  for (auto& [k, g] : groups) out.push_back(std::move(g));
  return out;
}

// ---- AdamW ----------------------------------------------------------------------------------------

AdamW::AdamW(std::vector<ParamGroup> groups, AdamWOptions opt) : groups_(std::move(groups)), opt_(opt) {
  SSM_CHECK(opt.lr >= 0, "AdamW: lr must be >= 0, got ", opt.lr);
  SSM_CHECK(opt.beta1 >= 0 && opt.beta1 < 1, "AdamW: beta1 must be in [0, 1), got ", opt.beta1);
  SSM_CHECK(opt.beta2 >= 0 && opt.beta2 < 1, "AdamW: beta2 must be in [0, 1), got ", opt.beta2);
  SSM_CHECK(opt.eps > 0, "AdamW: eps must be > 0, got ", opt.eps);
  for (auto& g : groups_) {
    SSM_CHECK(g.weight_decay >= 0, "AdamW: group '", g.name, "' has negative weight_decay");
    std::vector<State> st;
    for (auto& p : g.params) {
      SSM_CHECK(p.is_leaf() && p.requires_grad(), "AdamW: group '", g.name,
                "' holds a tensor that is not a leaf requiring grad");
      SSM_CHECK(p.is_contiguous() && is_floating(p.dtype()),
                "AdamW: parameters must be contiguous floating tensors (float32/float64 master "
                "weights, or bfloat16/float16), got ", describe(p));
      // Moments in float32 (float64 for float64 parameters), on the parameter's device.
      DType mdt = p.dtype() == DType::f64 ? DType::f64 : DType::f32;
      st.push_back({Tensor::zeros(p.shape(), mdt, p.device()), Tensor::zeros(p.shape(), mdt, p.device())});
    }
    state_.push_back(std::move(st));
  }
}

void AdamW::step() {
  ++step_;
  NoGradGuard ng;
  // One fused multi-tensor update (ops/optim.h) per device: a single launch on CUDA.
  std::vector<Tensor> params, grads, ms, vs;
  std::vector<double> lrs, wds;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    const ParamGroup& group = groups_[gi];
    for (size_t pi = 0; pi < group.params.size(); ++pi) {
      const Tensor& p = group.params[pi];
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      if (!grad.is_contiguous()) grad = grad.contiguous();
      params.push_back(p);
      grads.push_back(grad);
      ms.push_back(state_[gi][pi].m);
      vs.push_back(state_[gi][pi].v);
      lrs.push_back(opt_.lr * group.lr_scale);
      wds.push_back(group.weight_decay);
    }
  }
  if (params.empty()) return;
  std::vector<size_t> left(params.size());
  for (size_t i = 0; i < left.size(); ++i) left[i] = i;
  while (!left.empty()) {
    Device dev = params[left[0]].device();
    std::vector<Tensor> p, g, m, v, sh;
    std::vector<double> lr, wd;
    std::vector<size_t> rest;
    for (size_t i : left) {
      if (params[i].device() != dev) {
        rest.push_back(i);
        continue;
      }
      p.push_back(params[i]);
      g.push_back(grads[i]);
      m.push_back(ms[i]);
      v.push_back(vs[i]);
      lr.push_back(lrs[i]);
      wd.push_back(wds[i]);
      // Under autocast, the parameter's cached 16-bit cast is written by the same kernel, so
      // the next forward need not cast it again (core/autocast.h).
      sh.push_back(autocast_shadow(params[i]));
    }
    adamw_step_(p, g, m, v, lr, wd, opt_.beta1, opt_.beta2, opt_.eps, step_, sh);
    for (size_t i = 0; i < p.size(); ++i)
      if (sh[i].defined()) autocast_shadow_written(p[i]);
    left = std::move(rest);
  }
}

std::vector<AdamW::Slot> AdamW::slots() const {
  std::vector<Slot> out;
  for (size_t g = 0; g < groups_.size(); ++g)
    for (size_t i = 0; i < groups_[g].params.size(); ++i)
      out.push_back({groups_[g].params[i], state_[g][i].m, state_[g][i].v});
  return out;
}

void AdamW::zero_grad() {
  for (auto& g : groups_)
    for (auto& p : g.params) p.zero_grad();
}

double clip_grad_norm(const std::vector<Tensor>& params, double max_norm) {
  SSM_CHECK(max_norm > 0, "clip_grad_norm: max_norm must be > 0, got ", max_norm);
  NoGradGuard ng;
  std::vector<Tensor> grads;
  for (Tensor p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    if (!g.is_contiguous()) {
      g = g.contiguous();
      p.set_grad(g);
    }
    grads.push_back(g);
  }
  if (grads.empty()) return 0;
  // The norm stays on the gradients' device; only its 8 bytes are read back.
  double norm = global_grad_norm(grads).item<double>();
  if (norm > max_norm) scale_(grads, max_norm / (norm + 1e-6));
  return norm;
}

}  // namespace ssm::train
