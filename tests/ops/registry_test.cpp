// The op registry is complete: every kind of autograd Node (core/op_list.h) has an OpInfo entry
// with samples (so it is gradient-checked) and a PyTorch fixture file, and every OpInfo entry
// has a fixture.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "io/safetensors.h"
#include "ops/op_info.h"
#include "support/paths.h"

namespace ssm::testing {
namespace {

std::string fixture_path(const std::string& name) {
  return tests_dir() + "/fixtures/ops/" + name + ".safetensors";
}

TEST(Registry, EveryNodeKindHasAnOpInfo) {
  for (OpId op : all_ops()) {
    const OpInfo* info = find_op_info(op_name(op));
    ASSERT_NE(info, nullptr) << "op '" << op_name(op)
                             << "' records autograd Nodes but has no OpInfo entry "
                                "(add one beside the op, in ops/<op>.cpp)";
    EXPECT_TRUE(std::count(info->nodes.begin(), info->nodes.end(), op))
        << "OpInfo '" << info->name << "' does not claim the Node it is named after";
    Generator gen(1);
    EXPECT_FALSE(info->samples(gen).empty()) << "OpInfo '" << info->name << "' has no samples";
  }
}

TEST(Registry, EveryOpInfoHasAFixture) {
  for (const OpInfo& info : op_infos()) {
    std::string path = fixture_path(info.name);
    ASSERT_TRUE(std::filesystem::exists(path))
        << "no PyTorch fixture for '" << info.name << "' at " << path
        << " (run tools/make_fixtures.py with Debian's python3-torch)";
    auto file = safetensors::load(path);
    ASSERT_TRUE(file.metadata.count("cases")) << path << " has no 'cases' metadata";
    auto cases = json::parse(file.metadata.at("cases"));
    EXPECT_GE(cases.size(), 1u) << path << " has no cases";
  }
}

TEST(Registry, OpInfoNamesAreUnique) {
  std::vector<std::string> names;
  for (const OpInfo& info : op_infos()) names.push_back(info.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
}

}  // namespace
}  // namespace ssm::testing
