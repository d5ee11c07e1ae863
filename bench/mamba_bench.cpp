// A whole Mamba LM on the CPU, the ssm side of tools/bench_vs_torch.sh (the PyTorch side is
// tools/mamba_torch_bench.py, with the same configs):
//   mamba_train/<config>/threads:T     one optimizer step: forward, next-token cross-entropy,
//                                      backward, AdamW step, zero_grad (float32, random ids)
//   mamba_generate/<config>/threads:T  batch 1: prefill a 16-token prompt, then 256 greedy tokens
//                                      through infer::generate (ModelDecoder, O(1) per token)
// Configs: piglatin (d_model 64, d_state 16, expand 2, 2 layers, vocab 31; training batch 128 x
// length 24) and large (d_model 256, d_state 16, expand 2, 4 layers, vocab 256; batch 8 x 256).
// T runs over 1 and the default thread count (OMP_NUM_THREADS, else all cores), for OpenMP and
// BLAS alike (ssm::set_num_threads). Counter tokens_per_s: B*L per training step, new tokens per
// generation. The context key "blas" names the BLAS build and its threading.
//
//   ninja -C build ssm_bench && ./build/bench/ssm_bench --benchmark_filter=mamba_
#include <benchmark/benchmark.h>

#include <set>
#include <string>

#include "core/autograd.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "infer/model_decoder.h"
#include "infer/sampling.h"
#include "models/registry.h"
#include "ops/cross_entropy.h"
#include "train/adamw.h"

namespace {

using ssm::DType;
using ssm::Tensor;

struct BenchConfig {
  const char* name;
  int64_t vocab, d_model, layers, batch, length;
};

constexpr BenchConfig kConfigs[] = {
    {"piglatin", 31, 64, 2, 128, 24},
    {"large", 256, 256, 4, 8, 256},
};
constexpr int64_t kPrompt = 16, kNewTokens = 256;

// A Mamba LM of the config's sizes.
std::unique_ptr<ssm::models::Model> make_model(const BenchConfig& c, ssm::Generator& gen) {
  ssm::models::ModelConfig m;
  m.options = {{"vocab_size", c.vocab}, {"d_model", c.d_model}, {"d_state", 16}, {"expand", 2},
               {"d_conv", 4}, {"n_layer", c.layers}};
  return ssm::models::create_model(m, gen);
}

// Sets the thread count (OpenMP's and BLAS's: core/parallel.h) for one benchmark, restoring the
// default after it so the other benchmarks in the binary are unaffected.
const int kDefaultThreads = ssm::num_threads();

struct ThreadScope {
  explicit ThreadScope(int threads) { ssm::set_num_threads(threads); }
  ~ThreadScope() { ssm::set_num_threads(kDefaultThreads); }
};

void train_step(benchmark::State& state, const BenchConfig& c, int threads) {
  ThreadScope scope(threads);
  ssm::Generator gen(0);
  std::unique_ptr<ssm::models::Model> m = make_model(c, gen);
  ssm::models::Model& model = *m;
  ssm::train::AdamW opt({{model.parameters(), 0.01, 1.0, "all"}}, {});
  Tensor ids = Tensor::randint({c.batch, c.length}, 0, c.vocab, DType::i64, &gen);
  Tensor target = ids.narrow(1, 1, c.length - 1).reshape({-1});
  for (auto _ : state) {
    Tensor logits = model.forward(ids);
    Tensor pred = logits.narrow(1, 0, c.length - 1).reshape({-1, c.vocab});
    Tensor loss = ssm::cross_entropy(pred, target);
    loss.backward();
    opt.step();
    opt.zero_grad();
    benchmark::DoNotOptimize(loss.raw_data());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(c.batch * c.length) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

void generate(benchmark::State& state, const BenchConfig& c, int threads) {
  ThreadScope scope(threads);
  ssm::Generator gen(0);
  std::unique_ptr<ssm::models::Model> model = make_model(c, gen);
  Tensor prompt = Tensor::randint({1, kPrompt}, 0, c.vocab, DType::i64, &gen);
  ssm::infer::SamplingOptions opt;
  opt.temperature = 0;  // greedy
  opt.max_new_tokens = kNewTokens;
  for (auto _ : state) {
    ssm::infer::ModelDecoder dec(*model);
    auto out = ssm::infer::generate(dec, prompt, opt);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["tokens_per_s"] =
      benchmark::Counter(double(kNewTokens) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["threads"] = threads;
}

const bool registered = [] {
  // In the JSON and console headers, for tools/bench_vs_torch.sh's table.
  benchmark::AddCustomContext("blas", ssm::blas_threading());
  std::set<int> thread_counts = {1, kDefaultThreads};
  for (const BenchConfig& c : kConfigs) {
    for (int t : thread_counts) {
      std::string suffix = std::string("/") + c.name + "/threads:" + std::to_string(t);
      benchmark::RegisterBenchmark(("mamba_train" + suffix).c_str(), train_step, c, t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("mamba_generate" + suffix).c_str(), generate, c, t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
  }
  return true;
}();

}  // namespace
