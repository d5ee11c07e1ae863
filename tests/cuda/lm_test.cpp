// The whole language model (Mamba mixer) on CUDA against the CPU: forward logits, loss and the gradient of
// every parameter in float64 (same semantics, tight bounds), float32, and bf16 autocast (products
// in bf16, float32 master weights); AdamW training steps; decoding step by step on the GPU equal to
// the whole-sequence forward; model moves and checkpoints between devices.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <cmath>
#include <map>

#include "core/autocast.h"
#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "infer/model_decoder.h"
#include "models/registry.h"
#include "ops/cross_entropy.h"
#include "support/compare.h"
#include "train/adamw.h"

namespace ssm {
namespace {

using testing::Tol;

class CudaLM : public ::ssm::testing::GpuTest<> {};

using Model = std::unique_ptr<models::Model>;

Model small(DType dt, Generator& g) {
  models::ModelConfig c;
  c.options = {{"vocab_size", 37},  // not a multiple of anything
               {"d_model", 48}, {"d_state", 8}, {"n_layer", 2}};
  c.dtype = dt;
  return models::create_model(c, g);
}

struct Result {
  Tensor logits, loss;
  std::map<std::string, Tensor> grads;  // CPU, float64
};

Result run(const models::Model& model, const Tensor& ids, const Tensor& target) {
  Device dev = model.device();
  Result r;
  Tensor logits = model.forward(ids.to(dev));
  Tensor loss = cross_entropy(logits.reshape({-1, logits.size(2)}), target.to(dev).reshape({-1}));
  loss.backward();
  r.logits = logits.detach().cpu().to(DType::f64);
  r.loss = loss.detach().cpu().to(DType::f64);
  for (auto& [name, p] : model.named_parameters()) {
    EXPECT_TRUE(p.grad().defined()) << name << " has no gradient";
    if (p.grad().defined()) r.grads[name] = p.grad().cpu().to(DType::f64);
  }
  return r;
}

void expect_close(const Result& got, const Result& want, Tol tol) {
  EXPECT_CLOSE(got.logits, want.logits, tol);
  EXPECT_CLOSE(got.loss, want.loss, tol);
  for (auto& [name, g] : want.grads) {
    SCOPED_TRACE("gradient of " + name);
    ASSERT_TRUE(got.grads.count(name));
    EXPECT_CLOSE(got.grads.at(name), g, tol);
  }
}

struct Data {
  Tensor ids, target;
};

Data random_data(uint64_t seed, int64_t B, int64_t L, int64_t V) {
  Generator g(seed);
  return {Tensor::randint({B, L}, 0, V, DType::i64, &g), Tensor::randint({B, L}, 0, V, DType::i64, &g)};
}

TEST_F(CudaLM, Float64ForwardAndBackwardEqualTheCpu) {
  Generator g1(5), g2(5);
  Model cpu = small(DType::f64, g1), gpu = small(DType::f64, g2);
  gpu->to(Device::cuda(0));
  EXPECT_TRUE(gpu->device().is_cuda());
  Data d = random_data(11, 3, 37, 37);  // L not a multiple of the scan chunk
  expect_close(run(*gpu, d.ids, d.target), run(*cpu, d.ids, d.target), Tol{1e-10, 1e-8});
}

// A float32 model holding the float64 model's weights (rounded), on the GPU.
void copy_weights(Model& to, const Model& from) {
  NoGradGuard ng;
  to->load_state_dict(from->state_dict());
}

TEST_F(CudaLM, Float32AgainstTheFloat64Cpu) {
  Generator g1(6), g2(6);
  Model cpu = small(DType::f64, g1), gpu = small(DType::f32, g2);
  gpu->to(Device::cuda(0));
  copy_weights(gpu, cpu);
  copy_weights(cpu, gpu);  // the float64 reference on the same (float32-rounded) weights
  Data d = random_data(12, 4, 64, 37);
  // float32 end to end through 2 layers, a 37-way softmax and backward: relative 1e-4 per element.
  expect_close(run(*gpu, d.ids, d.target), run(*cpu, d.ids, d.target), Tol{1e-5, 1e-3, 1e-4});
}

TEST_F(CudaLM, BFloat16AutocastStaysNearFloat32) {
  Generator g1(7), g2(7);
  Model cpu = small(DType::f64, g1), gpu = small(DType::f32, g2);
  gpu->to(Device::cuda(0));
  copy_weights(gpu, cpu);
  copy_weights(cpu, gpu);
  Data d = random_data(13, 4, 64, 37);
  Result want = run(*cpu, d.ids, d.target), got;
  {
    AutocastGuard ac(DType::bf16);
    got = run(*gpu, d.ids, d.target);
  }
  // Products in bf16 (8 significant bits): a relative RMS error of a few 1e-3 per tensor.
  Tol tol{2e-2, 5e-2, 2e-2};
  EXPECT_CLOSE(got.logits, want.logits, tol);
  EXPECT_CLOSE(got.loss, want.loss, tol);
  for (auto& [name, g] : want.grads) {
    SCOPED_TRACE("gradient of " + name);
    // Gradients are sums over many bf16 products: judged by the aggregate only.
    EXPECT_CLOSE(got.grads.at(name), g, (Tol{1e30, 0, 5e-2}));
  }
  for (auto& [name, p] : gpu->named_parameters()) {
    EXPECT_EQ(p.dtype(), DType::f32) << name << ": master weights stay float32";
    EXPECT_EQ(p.grad().dtype(), DType::f32) << name << ": gradients reach the float32 weights";
  }
}

TEST_F(CudaLM, AdamWStepsMatchTheCpu) {
  Generator g1(8), g2(8);
  Model cpu = small(DType::f64, g1), gpu = small(DType::f64, g2);
  gpu->to(Device::cuda(0));
  train::AdamW oc({{cpu->parameters(), 0.01, 1.0, "all"}}, {.lr = 3e-3}),
      og({{gpu->parameters(), 0.01, 1.0, "all"}}, {.lr = 3e-3});
  for (int step = 0; step < 4; ++step) {
    Data d = random_data(100 + step, 2, 24, 37);
    Result rc = run(*cpu, d.ids, d.target), rg = run(*gpu, d.ids, d.target);
    EXPECT_CLOSE(rg.loss, rc.loss, (Tol{1e-10, 1e-9}));
    oc.step();
    og.step();
    oc.zero_grad();
    og.zero_grad();
  }
  auto pc = cpu->named_parameters(), pg = gpu->named_parameters();
  for (size_t i = 0; i < pc.size(); ++i) {
    SCOPED_TRACE(pc[i].first);
    EXPECT_TRUE(pg[i].second.device().is_cuda());
    EXPECT_CLOSE(pg[i].second.cpu(), pc[i].second, (Tol{1e-9, 1e-7}));
  }
}

TEST_F(CudaLM, DecodingStepByStepEqualsTheForward) {
  Generator g(9);
  Model m = small(DType::f32, g);
  models::Model& model = *m;
  model.to(Device::cuda(0));
  NoGradGuard ng;
  Data d = random_data(14, 3, 20, 37);
  Tensor ids = d.ids.to(Device::cuda(0));
  Tensor full = model.forward(ids).cpu().to(DType::f64);  // (B, L, V)
  std::unique_ptr<models::DecodeState> cache = model.new_state(3);
  Tensor first = model.prefill(ids.narrow(1, 0, 5), *cache);
  EXPECT_CLOSE(first.cpu().to(DType::f64), full.select(1, 4), (Tol{1e-4, 1e-4}));
  for (int64_t t = 5; t < 20; ++t) {
    Tensor step = model.step(ids.select(1, t).contiguous(), *cache);
    ASSERT_TRUE(step.device().is_cuda());
    SCOPED_TRACE("t = " + std::to_string(t));
    EXPECT_CLOSE(step.cpu().to(DType::f64), full.select(1, t), (Tol{1e-4, 1e-4}));
  }
}

TEST_F(CudaLM, MovesBackToTheCpuWithTheSameValues) {
  Generator g1(10), g2(10);
  Model a = small(DType::f32, g1), b = small(DType::f32, g2);
  Tensor before = a->named_parameters()[3].second;  // the handle survives moves
  a->to(Device::cuda(0));
  EXPECT_TRUE(before.device().is_cuda());
  a->to(Device::cpu());
  for (auto& [name, p] : b->state_dict()) {
    SCOPED_TRACE(name);
    EXPECT_CLOSE(a->state_dict().at(name), p, (Tol{0, 0}));
  }
}

// The CUDA-graph decoder (one recorded launch per token) gives the eager step's logits, also
// across reorders that keep the row count (in place) and that change it (re-recorded).
TEST_F(CudaLM, GraphDecodingEqualsEagerDecoding) {
  Generator g(15);
  Model m = small(DType::f32, g);
  const models::Model& model = *m;
  m->to(Device::cuda(0));
  Data d = random_data(16, 4, 30, 37);
  infer::ModelDecoder graphed(model);
  setenv("SSM_CUDA_GRAPH", "0", 1);
  infer::ModelDecoder eager(model);
  unsetenv("SSM_CUDA_GRAPH");
  Tensor prompt = d.ids.narrow(1, 0, 6).contiguous();
  EXPECT_CLOSE(graphed.prefill(prompt).cpu().to(DType::f64), eager.prefill(prompt).cpu().to(DType::f64), (Tol{0, 0}));
  int64_t rows = 4;
  for (int64_t t = 6; t < 30; ++t) {
    if (t == 12) {  // same row count, permuted: copied in place, the graph stays
      Tensor perm = Tensor::from_vector(std::vector<int64_t>{2, 0, 3, 1}, {4});
      graphed.reorder(perm);
      eager.reorder(perm);
    }
    if (t == 20) {  // fewer rows: re-recorded
      Tensor keep = Tensor::from_vector(std::vector<int64_t>{3, 1}, {2});
      graphed.reorder(keep);
      eager.reorder(keep);
      rows = 2;
    }
    Tensor ids = d.ids.select(1, t).narrow(0, 0, rows).contiguous();
    Tensor a = graphed.step(ids).cpu().to(DType::f64), b = eager.step(ids).cpu().to(DType::f64);
    EXPECT_TRUE(graphed.used_graph());
    EXPECT_FALSE(eager.used_graph());
    SCOPED_TRACE("t = " + std::to_string(t));
    EXPECT_CLOSE(a, b, (Tol{1e-6, 1e-6}));
  }
}

// Under bf16 autocast the decoder casts each weight once (cached while the guard lives) and the
// recorded graph reads those casts: same logits as the eager bf16 step, and as the bf16 forward.
TEST_F(CudaLM, GraphDecodingUnderAutocast) {
  Generator g(17);
  Model m = small(DType::f32, g);
  const models::Model& model = *m;
  m->to(Device::cuda(0));
  Data d = random_data(18, 2, 16, 37);
  AutocastGuard ac(DType::bf16);
  infer::ModelDecoder graphed(model);
  setenv("SSM_CUDA_GRAPH", "0", 1);
  infer::ModelDecoder eager(model);
  unsetenv("SSM_CUDA_GRAPH");
  Tensor prompt = d.ids.narrow(1, 0, 4).contiguous();
  graphed.prefill(prompt);
  eager.prefill(prompt);
  for (int64_t t = 4; t < 16; ++t) {
    Tensor ids = d.ids.select(1, t).contiguous();
    Tensor a = graphed.step(ids).cpu().to(DType::f64), b = eager.step(ids).cpu().to(DType::f64);
    EXPECT_TRUE(graphed.used_graph());
    SCOPED_TRACE("t = " + std::to_string(t));
    EXPECT_CLOSE(a, b, (Tol{1e-6, 1e-6}));
  }
}

}  // namespace
}  // namespace ssm
