// The message of the ssm::Error a call throws, for tests that check what an error says.
#pragma once

#include <functional>
#include <string>

#include "core/error.h"

namespace ssm::testing {

// The message of the ssm::Error that fn throws; "" when it throws none.
inline std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace ssm::testing
