// Sharded weights in transformers' layout: an index file beside the shards names the shard that
// holds each tensor.
//   model.safetensors.index.json:
//     {"metadata": {"total_size": 1234},
//      "weight_map": {"backbone.embeddings.weight": "model-00001-of-00002.safetensors", ...}}
//   model-00001-of-00002.safetensors, model-00002-of-00002.safetensors
// pytorch_model.bin.index.json indexes sharded pytorch_model-*.bin files the same way.
// Errors name the index or the shard and the tensor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "io/safetensors.h"

namespace ssm::safetensors {

struct Index {
  std::map<std::string, std::string> weight_map;  // tensor name -> shard file name

  std::vector<std::string> shards() const;  // the shard file names, sorted, each once
};

// Reads and checks an index: a JSON object whose "weight_map" maps every tensor to a file in the
// index's own folder (a plain file name); "metadata" is informational and not checked against
// the shards (writers disagree on what total_size counts).
Index read_index(const std::string& index_path);

// The tensors of every shard `index_path` lists, checked against the index: a missing shard, a
// tensor the index puts in a shard that lacks it, a tensor found in two shards and a tensor in a
// shard the index does not put there are errors. Shards are memory-mapped as by load().
std::map<std::string, Tensor> load_sharded(const std::string& index_path);

}  // namespace ssm::safetensors
