// ssm_gpu_bench: the GPU benchmark sections in one binary, each printing markdown tables.
//
//   ./build/bench/ssm_gpu_bench              every section
//   ./build/bench/ssm_gpu_bench dense scan   the named sections, in that order
#include <cstdio>
#include <cstring>

#include "bench/gpu/bench_util.h"
#include "core/device.h"

int main(int argc, char** argv) {
  if (!ssm::cuda_available()) {
    std::fprintf(stderr, "ssm_gpu_bench: no CUDA device visible\n");
    return 1;
  }
  struct Section {
    const char* name;
    void (*run)();
  };
  const Section sections[] = {{"scan", ssm::bench::scan_section},
                              {"dense", ssm::bench::dense_section},
                              {"elementwise", ssm::bench::elementwise_section},
                              {"optim", ssm::bench::optim_section},
                              {"model", ssm::bench::model_section},
                              {"copy", ssm::bench::copy_section},
                              {"s4", ssm::bench::s4_section},
                              {"s4d", ssm::bench::s4d_section},
                              {"s5", ssm::bench::s5_section}};
  for (const Section& s : sections) {
    bool wanted = argc < 2;
    for (int i = 1; i < argc; ++i) wanted |= std::strcmp(argv[i], s.name) == 0;
    if (!wanted) continue;
    s.run();
    std::printf("\n");
    std::fflush(stdout);
  }
  return 0;
}
