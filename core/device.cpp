#include "core/device.h"

#include "core/error.h"

#ifdef SSM_WITH_CUDA
#include "core/cuda/runtime.h"
#endif

namespace ssm {

Device parse_device(const std::string& s) {
  if (s == "auto") return cuda_available() ? Device::cuda(0) : Device::cpu();
  if (s == "cpu") return Device::cpu();
  if (s == "cuda") return Device::cuda(0);
  if (s.rfind("cuda:", 0) == 0) {
    std::string idx = s.substr(5);
    bool digits = !idx.empty() && idx.size() < 4 &&
                  idx.find_first_not_of("0123456789") == std::string::npos;
    SSM_CHECK(digits, "device '", s, "': expected auto, cpu, cuda or cuda:N");
    return Device::cuda(std::stoi(idx));
  }
  SSM_FAIL("device '", s, "': expected auto, cpu, cuda or cuda:N");
}

int cuda_device_count() {
#ifdef SSM_WITH_CUDA
  return cuda::device_count();
#else
  return 0;
#endif
}

bool cuda_available() { return cuda_device_count() > 0; }

void check_device_usable(Device d, const char* what) {
  if (d.is_cpu()) return;
  int n = cuda_device_count();
#ifdef SSM_WITH_CUDA
  const char* why = "no GPU is visible to this process (check nvidia-smi and CUDA_VISIBLE_DEVICES)";
#else
  const char* why = "this build has no CUDA backend (rebuild where nvcc is installed)";
#endif
  SSM_CHECK(n > 0, what, ": device ", d, " was asked for, but ", why, "; use the cpu");
  SSM_CHECK(d.index < n, what, ": device ", d, " does not exist: ", n, " GPU(s) visible");
}

}  // namespace ssm
