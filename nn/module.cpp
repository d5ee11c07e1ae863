#include "nn/module.h"

#include <cmath>
#include <sstream>

#include "core/autograd.h"
#include "core/error.h"

namespace ssm::nn {

Tensor Module::register_parameter(const std::string& name, Tensor t) {
  SSM_CHECK(name.find('.') == std::string::npos, "register_parameter: name '", name,
            "' must not contain '.'");
  for (const auto& [n, p] : params_) SSM_CHECK(n != name, "register_parameter: '", name, "' twice");
  t = t.detach();
  t.requires_grad_(true);
  params_.emplace_back(name, t);
  return t;
}

void Module::collect(const std::string& prefix,
                     std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, p] : params_) out.emplace_back(prefix + n, p);
  for (const auto& [n, m] : children_) m->collect(prefix + n + ".", out);
}

std::vector<std::pair<std::string, Tensor>> Module::named_parameters() const {
  std::vector<std::pair<std::string, Tensor>> out;
  collect("", out);
  return out;
}

std::vector<Tensor> Module::parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, p] : named_parameters()) out.push_back(p);
  return out;
}

int64_t Module::num_parameters() const {
  int64_t n = 0;
  for (auto& [name, p] : named_parameters()) n += p.numel();
  return n;
}

void Module::train(bool on) {
  training_ = on;
  for (auto& [n, m] : children_) m->train(on);
}

std::map<std::string, Tensor> Module::state_dict() const {
  std::map<std::string, Tensor> out;
  for (auto& [n, p] : named_parameters()) out[n] = p.detach();
  return out;
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  auto params = named_parameters();
  std::ostringstream missing, bad_shape;
  int n_missing = 0, n_bad = 0;
  std::map<std::string, bool> used;
  for (auto& [name, p] : params) {
    auto it = state.find(name);
    if (it == state.end()) {
      missing << (n_missing++ ? ", " : "") << name;
      continue;
    }
    used[name] = true;
    if (it->second.shape() != p.shape()) {
      bad_shape << (n_bad++ ? "; " : "") << name << ": checkpoint " << it->second.shape()
                << ", model " << p.shape();
    }
  }
  std::ostringstream unexpected;
  int n_unexpected = 0;
  for (auto& [name, t] : state)
    if (!used.count(name)) unexpected << (n_unexpected++ ? ", " : "") << name;
  SSM_CHECK(n_bad == 0, "load_state_dict: shape mismatch for ", n_bad, " tensor(s): ",
            bad_shape.str());
  SSM_CHECK(!strict || (n_missing == 0 && n_unexpected == 0), "load_state_dict: ",
            n_missing ? "missing keys: " + missing.str() : std::string(),
            n_missing && n_unexpected ? "; " : "",
            n_unexpected ? "unexpected keys: " + unexpected.str() : std::string());
  NoGradGuard ng;
  for (auto& [name, p] : params) {
    auto it = state.find(name);
    if (it != state.end()) p.copy_(it->second);
  }
}

void Module::to(Device device) {
  NoGradGuard ng;
  for (auto& [name, p] : named_parameters()) {
    if (p.device() == device) continue;
    Tensor moved = p.detach().to(device);
    // Swap the data under the parameter's handle; its autograd metadata (a leaf) stays.
    TensorImpl* impl = p.impl();
    impl->storage = moved.storage();
    impl->strides = moved.strides();
    impl->offset = moved.offset();
    p.zero_grad();
  }
}

const Tensor* Module::first_parameter() const {
  if (!params_.empty()) return &params_.front().second;
  for (const auto& [n, m] : children_)
    if (const Tensor* t = m->first_parameter()) return t;
  return nullptr;
}

// Without building the parameters' names: decoders ask for it every token.
Device Module::device() const {
  const Tensor* t = first_parameter();
  return t ? t->device() : Device::cpu();
}

void Module::zero_grad() {
  for (auto& [n, p] : named_parameters()) p.zero_grad();
}

namespace {
// The index of the first NaN or infinity in `p`, or -1.
template <class T>
int64_t first_non_finite(const Tensor& p, double& value) {
  std::vector<T> v = p.to_vector<T>();
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) {
      value = double(v[i]);
      return int64_t(i);
    }
  return -1;
}
}  // namespace

void check_finite_parameters(const Module& m, const std::string& where) {
  for (const auto& [name, p] : m.named_parameters()) {
    // float holds every bf16, f16 and f32 value; only a float64 parameter is read as double.
    double value = 0;
    int64_t at = p.dtype() == DType::f64 ? first_non_finite<double>(p, value)
                                         : first_non_finite<float>(p, value);
    SSM_CHECK(at < 0, where, ": ", name, " holds ", value, " at element ", at, " of ", p.numel(),
              "; the weights are not usable (did the training run diverge?)");
  }
}

}  // namespace ssm::nn
