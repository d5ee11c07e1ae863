// Devices. A tensor lives on the CPU or on one CUDA device; ops dispatch on it.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>

namespace ssm {

enum class DeviceType : uint8_t { cpu, cuda };

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool is_cuda() const { return type == DeviceType::cuda; }
  friend bool operator==(const Device&, const Device&) = default;
  std::string str() const { return is_cpu() ? "cpu" : "cuda:" + std::to_string(index); }
};

inline std::ostream& operator<<(std::ostream& os, const Device& d) { return os << d.str(); }

// Parses "cpu", "cuda", "cuda:1", and "auto" (the first GPU when one is visible, else the CPU);
// throws ssm::Error on anything else.
Device parse_device(const std::string& s);

// True when this build has the CUDA backend and a GPU is visible at run time.
bool cuda_available();
int cuda_device_count();
// Throws ssm::Error, naming `what` and the reason, when `d` is a GPU this process cannot use.
void check_device_usable(Device d, const char* what);

}  // namespace ssm
