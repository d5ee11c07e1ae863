#include "support/paths.h"

namespace ssm::testing {

std::string source_dir() { return SSM_SOURCE_DIR; }
std::string tests_dir() { return SSM_TEST_DATA_DIR; }

}  // namespace ssm::testing
