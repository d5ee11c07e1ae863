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

// Creates the folder `dir` and its missing parents. Returns the topmost folder it created ("" when
// `dir` existed): removing it undoes the call, so a command that fails before writing anything
// leaves no empty folders behind. ssm::Error naming the folder when it cannot be created.
std::string create_folders(const std::string& dir);

}  // namespace ssm
