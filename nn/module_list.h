// ModuleList: children named "0", "1", ... so their parameters get paths like "layers.3.norm.weight".
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nn/module.h"

namespace ssm::nn {

template <class M>
class ModuleList : public Module {
 public:
  void append(std::shared_ptr<M> m) {
    register_module(std::to_string(items_.size()), m);
    items_.push_back(std::move(m));
  }
  size_t size() const { return items_.size(); }
  M& operator[](size_t i) const { return *items_[i]; }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }

 private:
  std::vector<std::shared_ptr<M>> items_;
};

}  // namespace ssm::nn
