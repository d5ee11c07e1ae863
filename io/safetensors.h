// safetensors read and write (https://github.com/huggingface/safetensors, format described there):
//   8 bytes   little-endian u64 N, the header size
//   N bytes   JSON object: name -> {"dtype", "shape", "data_offsets": [begin, end]} and an
//             optional "__metadata__": {string: string}; offsets are relative to the byte buffer
//   rest      the byte buffer, every byte of it covered by exactly one tensor
// Reading validates everything and throws ssm::Error naming the file, the tensor and the problem;
// a malformed file never crashes. Writing is atomic (temp file, fsync, rename).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ssm::safetensors {

struct File {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;
};

// Memory-maps `path`. Tensors view the mapping (copy-on-write: writing to them never touches
// the file) unless their data is misaligned for the dtype, in which case they are copied.
File load(const std::string& path);

// Parses a file image held in memory; the tensors are copies, so `bytes` may go away.
// `source` names the data in error messages.
File parse(std::span<const uint8_t> bytes, const std::string& source = "<memory>");

// Serialises tensors (any layout; written contiguously, CPU copies made as needed).
std::vector<uint8_t> serialize(const std::map<std::string, Tensor>& tensors,
                               const std::map<std::string, std::string>& metadata = {});

// Writes atomically: to `path`.tmp.<pid>, fsync, rename over `path`, fsync the directory.
void save(const std::string& path, const std::map<std::string, Tensor>& tensors,
          const std::map<std::string, std::string>& metadata = {});

}  // namespace ssm::safetensors
