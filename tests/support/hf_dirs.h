// Model dirs as people download them from the Hugging Face hub, made at test time from a tiny
// model written by io::save_model_dir: weights split into transformers' shards, or stored in
// bfloat16 / float16.
#pragma once

#include <cstdio>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "support/tiny_model.h"  // tiny_lm

namespace ssm::testing {

// The name transformers gives shard i (from 1) of n.
inline std::string shard_name(int i, int n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05d-of-%05d.safetensors", i, n);
  return buf;
}

// Replaces dir/model.safetensors by `n` shards (tensors dealt round robin in name order) and
// model.safetensors.index.json, as transformers' save_pretrained writes them.
inline void reshard(const std::string& dir, int n) {
  std::string single = dir + "/model.safetensors";
  auto tensors = safetensors::load(single).tensors;
  std::vector<std::map<std::string, Tensor>> shards(static_cast<size_t>(n));
  nlohmann::json index = {{"metadata", {{"total_size", 0}}},
                          {"weight_map", nlohmann::json::object()}};
  int64_t total = 0, i = 0;
  for (const auto& [name, t] : tensors) {
    int s = static_cast<int>(i++ % n);
    shards[static_cast<size_t>(s)][name] = t;
    index["weight_map"][name] = shard_name(s + 1, n);
    total += t.numel() * t.element_size();
  }
  index["metadata"]["total_size"] = total;
  for (int s = 0; s < n; ++s)
    safetensors::save(dir + "/" + shard_name(s + 1, n), shards[static_cast<size_t>(s)],
                      {{"format", "pt"}});
  std::FILE* f = std::fopen((dir + "/model.safetensors.index.json").c_str(), "w");
  std::fputs(index.dump(2).c_str(), f);
  std::fclose(f);
  std::filesystem::remove(single);
}

// Rewrites every tensor of dir/model.safetensors as fn(tensor): t.to(DType::bf16) stores the
// weights in bfloat16; t.to(DType::bf16).to(DType::f32) gives what such a dir must load as.
inline void map_weights(const std::string& dir, const std::function<Tensor(const Tensor&)>& fn) {
  std::string path = dir + "/model.safetensors";
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : safetensors::load(path).tensors) out[name] = fn(t);
  safetensors::save(path, out, {{"format", "pt"}});
}

}  // namespace ssm::testing
