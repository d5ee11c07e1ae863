#include "io/safetensors_index.h"

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/file.h"

namespace ssm::safetensors {

namespace fs = std::filesystem;

std::vector<std::string> Index::shards() const {
  std::set<std::string> names;
  for (const auto& [tensor, shard] : weight_map) names.insert(shard);
  return {names.begin(), names.end()};
}

Index read_index(const std::string& index_path) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_file(index_path));
  } catch (const nlohmann::json::exception& e) {
    SSM_FAIL(index_path, ": not valid JSON (", e.what(), ")");
  }
  SSM_CHECK(j.is_object(), index_path, ": expected a JSON object with a \"weight_map\", found a ",
            j.type_name());
  SSM_CHECK(j.contains("weight_map") && j["weight_map"].is_object(), index_path,
            ": no \"weight_map\" object (tensor name -> shard file)");
  Index index;
  for (const auto& [tensor, shard] : j["weight_map"].items()) {
    SSM_CHECK(shard.is_string(), index_path, ": weight_map[\"", tensor,
              "\"] must be a shard file name, got ", shard.dump());
    std::string name = shard.get<std::string>();
    // Shards live beside the index: a path would let an index read files anywhere.
    SSM_CHECK(!name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos,
              index_path, ": weight_map[\"", tensor, "\"] is \"", name,
              "\", not the name of a file beside the index");
    index.weight_map[tensor] = name;
  }
  SSM_CHECK(!index.weight_map.empty(), index_path, ": the weight_map lists no tensors");
  return index;
}

std::map<std::string, Tensor> load_sharded(const std::string& index_path) {
  Index index = read_index(index_path);
  fs::path dir = fs::path(index_path).parent_path();
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::vector<std::string>> found;  // tensor -> the shards holding it
  for (const std::string& shard : index.shards()) {
    std::string path = (dir / shard).string();
    if (!fs::exists(path)) {
      size_t n = 0;
      std::string example;
      for (const auto& [tensor, s] : index.weight_map)
        if (s == shard && n++ == 0) example = tensor;
      SSM_FAIL(index_path, ": shard '", path, "' does not exist (the index puts ", n,
               " tensor(s) there, '", example, "' among them)");
    }
    for (auto& [name, t] : load(path).tensors) {
      found[name].push_back(shard);
      tensors[name] = std::move(t);
    }
  }
  for (const auto& [name, shards] : found) {
    SSM_CHECK(shards.size() == 1, index_path, ": tensor '", name, "' is in two shards, '",
              (dir / shards[0]).string(), "' and '", (dir / shards[1]).string(), "'");
    auto it = index.weight_map.find(name);
    SSM_CHECK(it != index.weight_map.end(), (dir / shards[0]).string(), ": holds tensor '", name,
              "', which ", index_path, " does not list");
    SSM_CHECK(it->second == shards[0], (dir / shards[0]).string(), ": holds tensor '", name,
              "', which ", index_path, " puts in '", it->second, "'");
  }
  for (const auto& [name, shard] : index.weight_map)
    SSM_CHECK(found.count(name), index_path, ": tensor '", name, "' is in shard '",
              (dir / shard).string(), "' by the index, but that shard does not hold it");
  return tensors;
}

}  // namespace ssm::safetensors
