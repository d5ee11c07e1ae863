// GPU benchmark of the whole Mamba-130M model (24 layers, d_model 768, d_state 16, vocab 50280,
// tied embeddings): training throughput and decoding latency, as the reference measured
// them with PyTorch + mamba_ssm on an H100 (figures printed beside ours).
//
//   train   one optimizer step = forward + cross-entropy + backward + fused AdamW, batch 8 x 2048
//           random tokens, bf16 autocast (float32 master weights); tokens/s over 10 steps after 3
//           warm-up steps; peak = the caching allocator's peak bytes in use over those steps
//           (weights, gradients, AdamW moments and activations).
//   decode  one token for every sequence of the batch through all 24 layers (Mamba step kernels),
//           after a 16-token prefill, through infer::ModelDecoder, eager and as a CUDA graph;
//           median of 50 steps (host ids in, logits on the device); fp32 and bf16 autocast.
//
//   ninja -C build ssm_gpu_bench && ./build/bench/ssm_gpu_bench model
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "infer/model_decoder.h"
#include "models/registry.h"
#include "ops/cross_entropy.h"
#include "train/adamw.h"

namespace ssm::bench {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Mamba-130M (the defaults are its sizes but the vocabulary) with `layers` layers.
std::unique_ptr<models::Model> mamba_130m(Generator& g, int64_t layers, int64_t scan_chunk = 0) {
  models::ModelConfig c;
  c.options = {{"vocab_size", 50280}, {"n_layer", layers}};
  if (scan_chunk > 0) c.options["scan_chunk"] = scan_chunk;
  return models::create_model(c, g);
}

// scan_chunk > 0: the config's ssm_scan_chunk (steps between the states the scan keeps for
// backward) instead of the default.
void train_bench(int64_t layers, int64_t scan_chunk = 0) {
  Generator g(1);
  std::unique_ptr<models::Model> m = mamba_130m(g, layers, scan_chunk);
  models::Model& model = *m;
  model.to(Device::cuda(0));
  train::AdamW opt({{model.parameters(), 0.1, 1.0, "all"}}, {.lr = 1e-4});
  const int64_t B = 8, L = 2048;
  Generator dg(2);
  Tensor ids = Tensor::randint({B, L + 1}, 0, 50280, DType::i64, &dg).to(Device::cuda(0));
  Tensor x = ids.narrow(1, 0, L).contiguous(), y = ids.narrow(1, 1, L).contiguous().reshape({-1});
  AutocastGuard ac(DType::bf16);
  auto step = [&] {
    Tensor logits = model.forward(x);
    Tensor loss = cross_entropy(logits.reshape({-1, logits.size(2)}), y);
    loss.backward();
    opt.step();
    opt.zero_grad();
    return loss;
  };
  for (int i = 0; i < 3; ++i) step();
  cudaDeviceSynchronize();
  cuda::allocator_reset_peak(0);
  const int steps = 10;
  auto t0 = Clock::now();
  Tensor loss;
  for (int i = 0; i < steps; ++i) loss = step();
  cudaDeviceSynchronize();
  double s = seconds_since(t0);
  double tps = double(B * L * steps) / s;
  double peak_gb = double(cuda::allocator_stats(0).peak_in_use) / 1e9;
  const std::string chunk = scan_chunk > 0 ? ", scan chunk " + std::to_string(scan_chunk) : "";
  std::printf("| Mamba-%s training, batch 8 x 2048, bf16%s | %.1fk tokens/s (%.1f ms/step), peak %.1f GB | "
              "153.7k tokens/s, 19.1 GB | %.2fx |\n",
              layers == 24 ? "130M" : "130M-width", chunk.c_str(), tps / 1e3, 1e3 * s / steps, peak_gb,
              tps / 153.7e3);
  std::printf("  (loss after %d steps: %.4f; %lld layers)\n", steps + 3, loss.cpu().item<double>(),
              (long long)layers);
}

// One decoding step of the whole model for `batch` sequences, through infer::ModelDecoder (what
// `ssm generate` uses): with `graph`, the step is replayed as one recorded CUDA graph; without,
// every op is launched from the host. Token ids come from the host, logits stay on the device.
void decode_bench(int64_t layers, int64_t batch, std::optional<DType> precision, bool graph, double ref_ms) {
  Generator g(1);
  std::unique_ptr<models::Model> m = mamba_130m(g, layers);
  const models::Model& model = *m;
  m->to(Device::cuda(0));
  NoGradGuard ng;
  AutocastGuard ac(precision);
  if (!graph) setenv("SSM_CUDA_GRAPH", "0", 1);
  infer::ModelDecoder dec(model);
  unsetenv("SSM_CUDA_GRAPH");
  Generator dg(3);
  Tensor prompt = Tensor::randint({batch, 16}, 0, 50280, DType::i64, &dg);
  Tensor logits = dec.prefill(prompt);
  Tensor tok = Tensor::randint({batch}, 0, 50280, DType::i64, &dg);
  std::vector<double> ms;
  for (int i = 0; i < 60; ++i) {
    cudaDeviceSynchronize();
    auto t0 = Clock::now();
    logits = dec.step(tok);
    cudaDeviceSynchronize();
    if (i >= 10) ms.push_back(1e3 * seconds_since(t0));
  }
  std::sort(ms.begin(), ms.end());
  double med = ms[ms.size() / 2];
  std::printf("| Mamba-130M decode step, batch %lld, %s, %s | %.3f ms/token | %.1f ms (no graph) | %.1fx |\n",
              (long long)batch, precision ? "bf16" : "fp32", dec.used_graph() ? "CUDA graph" : "eager", med,
              ref_ms, ref_ms / med);
}

}  // namespace

void model_section() {
  const int64_t layers = 24;
  std::printf("Mamba-130M, whole model\n\n| work | ssm | reference (H100, PyTorch + mamba_ssm) | speed-up |\n|---|---|---|---|\n");
  for (int64_t chunk : {int64_t(0), int64_t(16)}) {
    try {
      train_bench(layers, chunk);
    } catch (const std::exception& e) {
      std::printf("| training | failed: %s | | |\n", e.what());
    }
  }
  for (int64_t b : {int64_t(1), int64_t(64)})
    for (auto p : {std::optional<DType>(), std::optional<DType>(DType::bf16)})
      for (bool graph : {false, true}) {
        try {
          decode_bench(layers, b, p, graph, b == 1 ? 16.6 : 17.5);
        } catch (const std::exception& e) {
          std::printf("| decode batch %lld | failed: %s | | |\n", (long long)b, e.what());
        }
      }
}

}  // namespace ssm::bench
