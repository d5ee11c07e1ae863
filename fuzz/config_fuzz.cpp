// libFuzzer target for the YAML config reader (tasks/run_config.h over io/schema.h): any text, with
// or without a --set override taken from its first line, must either load or raise ssm::Error.
// A crash, a sanitizer report or any other exception escaping is a bug, and so is a config that
// loads but does not read back the same from the YAML it writes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "tasks/run_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> sets;
  // "#set key=value" as the first line also exercises --set parsing.
  if (text.rfind("#set ", 0) == 0) {
    size_t end = text.find('\n');
    sets.push_back(text.substr(5, end == std::string::npos ? std::string::npos : end - 5));
  }
  try {
    ssm::tasks::RunConfig cfg = ssm::tasks::parse_run_config(text, "fuzz.yaml", sets);
    std::string yaml = ssm::tasks::to_yaml(cfg);
    if (!(ssm::tasks::parse_run_config(yaml, "fuzz.yaml") == cfg)) __builtin_trap();
  } catch (const ssm::Error&) {
  }
  return 0;
}
