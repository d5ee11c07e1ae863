// Whole-file reads and atomic writes, for every file ssm writes: configs, model dirs, checkpoints,
// data sets, tokenizers.
#pragma once

#include <string>
#include <string_view>

namespace ssm {

// The bytes of `path`; ssm::Error naming the path and the OS error when it cannot be read.
std::string read_file(const std::string& path);

// Writes `bytes` to `path` atomically: to `path`.tmp.<pid>, fsync, rename over `path`, fsync the
// directory. A reader sees the old file or the new one, never a torn one.
void write_file_atomic(const std::string& path, std::string_view bytes);

}  // namespace ssm
