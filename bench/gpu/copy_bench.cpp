// GPU benchmark of host <-> device copies of 64 MiB: the driver's pageable path (plain
// cudaMemcpy, what ssm did before pinned staging), ssm's copy through pinned staging slices
// (Tensor::copy_, core/cuda/transfer.cu), and a DMA from one pinned buffer (the ceiling: no host
// memcpy at all). Times are wall clock until the data is in place (the call, then a device
// synchronisation), median of 20 runs after 3 warm-ups.
//
// The second table shows what the host gains: a host -> device copy queued behind ~10 ms of GPU
// work. The pageable cudaMemcpy waits for that work before it returns; the staged copy returns
// once the source is in pinned memory.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench copy
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "bench/gpu/bench_util.h"
#include "core/cuda/runtime.h"
#include "core/tensor.h"

namespace ssm::bench {

namespace {

double now_ms() {
  using namespace std::chrono;
  return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

// Median wall time of f() followed by a device synchronisation, in ms.
template <class F>
double wall_ms(F&& f, int warmup = 3, int reps = 20) {
  for (int i = 0; i < warmup; ++i) f();
  ck(cudaDeviceSynchronize(), "warm-up");
  std::vector<double> ms;
  for (int i = 0; i < reps; ++i) {
    double t0 = now_ms();
    f();
    ck(cudaDeviceSynchronize(), "sync");
    ms.push_back(now_ms() - t0);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

// Median time until f() returns, with ~10 ms of memsets queued before it, in ms.
template <class F>
double returns_behind_work_ms(F&& f, void* busy, size_t busy_bytes) {
  std::vector<double> ms;
  for (int i = 0; i < 10; ++i) {
    ck(cudaDeviceSynchronize(), "sync");
    for (int k = 0; k < 32; ++k) ssm::cuda::fill_bytes(busy, uint8_t(k), busy_bytes);
    double t0 = now_ms();
    f();
    ms.push_back(now_ms() - t0);
  }
  ck(cudaDeviceSynchronize(), "sync");
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void row(const char* name, size_t bytes, double ms) {
  std::printf("| %-46s | %8.3f | %7.1f |\n", name, ms, gbs(double(bytes), ms));
}

}  // namespace

void copy_section() {
  const size_t bytes = size_t(64) << 20;
  const int64_t n = int64_t(bytes / 4);
  Device dev = Device::cuda(0);
  Tensor host = Tensor::full({n}, 1.5, DType::f32);  // pageable, pages already touched
  Tensor gpu = Tensor::zeros({n}, DType::f32, dev);
  std::vector<char> pageable(bytes, 1);
  void* pinned = nullptr;
  ck(cudaHostAlloc(&pinned, bytes, cudaHostAllocDefault), "cudaHostAlloc");
  std::memset(pinned, 1, bytes);

  std::printf("host <-> device copies of 64 MiB (wall clock until done, median of 20)\n\n");
  std::printf("| %-46s | %8s | %7s |\n", "copy", "ms", "GB/s");
  std::printf("|%s|---------:|--------:|\n", std::string(48, '-').c_str());
  row("host -> device, pageable cudaMemcpy", bytes, wall_ms([&] {
        ck(cudaMemcpy(gpu.raw_data(), pageable.data(), bytes, cudaMemcpyHostToDevice), "h2d");
      }));
  row("host -> device, pinned staging (Tensor::copy_)", bytes, wall_ms([&] { gpu.copy_(host); }));
  row("host -> device, from pinned memory (DMA only)", bytes, wall_ms([&] {
        ck(cudaMemcpyAsync(gpu.raw_data(), pinned, bytes, cudaMemcpyHostToDevice, 0), "h2d");
      }));
  row("device -> host, pageable cudaMemcpy", bytes, wall_ms([&] {
        ck(cudaMemcpy(pageable.data(), gpu.raw_data(), bytes, cudaMemcpyDeviceToHost), "d2h");
      }));
  row("device -> host, Tensor::copy_ (plain cudaMemcpy)", bytes, wall_ms([&] { host.copy_(gpu); }));
  row("device -> host, into pinned memory (DMA only)", bytes, wall_ms([&] {
        ck(cudaMemcpy(pinned, gpu.raw_data(), bytes, cudaMemcpyDeviceToHost), "d2h");
      }));

  const size_t busy_bytes = size_t(1) << 30;
  void* busy = ssm::cuda::alloc(busy_bytes, 0);
  std::printf("\nhost -> device copy of 64 MiB queued behind ~10 ms of GPU work: time until the call "
              "returns (median of 10)\n\n");
  std::printf("| %-46s | %8s |\n", "copy", "ms");
  std::printf("|%s|---------:|\n", std::string(48, '-').c_str());
  std::printf("| %-46s | %8.3f |\n", "pageable cudaMemcpy", returns_behind_work_ms([&] {
                ck(cudaMemcpy(gpu.raw_data(), pageable.data(), bytes, cudaMemcpyHostToDevice), "h2d");
              }, busy, busy_bytes));
  std::printf("| %-46s | %8.3f |\n", "pinned staging (Tensor::copy_)",
              returns_behind_work_ms([&] { gpu.copy_(host); }, busy, busy_bytes));
  ssm::cuda::dealloc(busy, 0);
  cudaFreeHost(pinned);
  ssm::cuda::PinnedStats s = ssm::cuda::pinned_stats();
  std::printf("\npinned staging cache: %zu MiB held, %llu cudaHostAlloc calls, %llu waits\n",
              (s.in_use + s.cached) >> 20, (unsigned long long)s.host_allocs,
              (unsigned long long)s.waits);
}

}  // namespace ssm::bench
