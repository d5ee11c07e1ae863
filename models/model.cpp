#include "models/model.h"

#include <cstdio>

#include "core/allocator.h"
#include "ops/cross_entropy.h"

namespace ssm::models {

Tensor Model::loss(const Batch& batch) const {
  Device dev = device();  // batches are made on the CPU
  Tensor seq_start = batch.seq_start.defined() ? batch.seq_start.to(dev) : Tensor();
  Tensor logits = forward(batch.ids.to(dev), seq_start);
  int64_t V = logits.size(2);
  return cross_entropy(logits.reshape({-1, V}), batch.targets.to(dev).reshape({-1}),
                       {.ignore_index = kIgnoreIndex});
}

namespace {
// x / 1000^k with the k-th of `names`, three significant digits: "160 trillion", "25.2 GB".
std::string scaled(double x, const std::vector<const char*>& names) {
  size_t k = 0;
  while (x >= 1000 && k + 1 < names.size()) {
    x /= 1000;
    ++k;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g%s", x, names[k]);
  return buf;
}
}  // namespace

std::string count_in_words(double n) {
  return scaled(n, {"", " thousand", " million", " billion", " trillion", " quadrillion"});
}

std::string size_failure(double parameters, DType dtype) {
  const double bytes = parameters * double(dtype_size(dtype)), memory = double(physical_memory());
  if (memory == 0 || bytes <= memory) return "";
  const std::vector<const char*> bytes_units = {" B", " kB", " MB", " GB", " TB", " PB", " EB"};
  return "makes a model of " + count_in_words(parameters) + " parameters, whose " +
         dtype_name(dtype) + " weights alone need " + scaled(bytes, bytes_units) +
         ", more than this machine's " + scaled(memory, bytes_units) + " of memory";
}

}  // namespace ssm::models
