// libFuzzer target for the safetensors reader: any byte string must either parse or raise
// ssm::Error. A crash, a sanitizer report or any other exception escaping is a bug.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    ssm::safetensors::File file = ssm::safetensors::parse(std::span<const uint8_t>(data, size));
    // What was accepted must serialize and parse back to the same tensors.
    ssm::safetensors::File back = ssm::safetensors::parse(
        ssm::safetensors::serialize(file.tensors, file.metadata));
    if (back.tensors.size() != file.tensors.size() || back.metadata != file.metadata)
      __builtin_trap();
  } catch (const ssm::Error&) {
  }
  return 0;
}
