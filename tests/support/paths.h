// Where the tests find the source tree: committed fixtures, configs, data and tools.
//
// The absolute paths are compile-time definitions of tests/support/paths.cpp alone: a definition
// on every test file would make each checkout's objects differ, so ccache could not share them
// between worktrees and build types.
#pragma once

#include <string>

namespace ssm::testing {

std::string source_dir();  // the repository root
std::string tests_dir();   // source_dir() + "/tests"

}  // namespace ssm::testing
