// Packed variable-length rows (seq_start) on the CPU in float64: the selective scan, the causal
// conv, the Mamba block and the whole LM give, for each packed sequence, the outputs and the
// input / parameter gradients that the sequence gives run on its own.
#include <gtest/gtest.h>

#include "core/rng.h"
#include "models/registry.h"
#include "nn/mamba.h"
#include "nn/mamba.h"
#include "ops/causal_conv1d.h"
#include "ops/elementwise.h"
#include "ops/selective_scan.h"
#include "support/compare.h"
#include "support/varlen.h"

namespace ssm {
namespace {

using testing::Tol;
namespace vl = testing::varlen;

// Row 0: sequences of 5, 11 and 7; row 1: 9, 1 and 13 (a length-1 sequence). With chunk 4 the
// start at t = 16 is on a chunk boundary.
const vl::Layout kRows = {{5, 11, 7}, {9, 1, 13}};
// Packed and separate runs do the same arithmetic per sequence; only sums over sequences (the
// parameter gradients) are taken in another order.
const Tol kTight{1e-12, 1e-11};

void expect_same(const vl::Result& a, const vl::Result& b, const char* const* names = nullptr) {
  EXPECT_CLOSE(a.out, b.out, kTight);
  ASSERT_EQ(a.grads.size(), b.grads.size());
  for (size_t i = 0; i < a.grads.size(); ++i) {
    SCOPED_TRACE(names ? names[i] : std::to_string(i).c_str());
    ASSERT_EQ(a.grads[i].defined(), b.grads[i].defined());
    if (a.grads[i].defined()) EXPECT_CLOSE(a.grads[i], b.grads[i], kTight);
  }
}

std::vector<Tensor> scan_inputs(Generator& g, int64_t B, int64_t L, int64_t D, int64_t N) {
  return {Tensor::randn({B, L, D}, DType::f64, &g),
          mul(Tensor::randn({B, L, D}, DType::f64, &g), 0.5),
          neg(exp(mul(Tensor::randn({D, N}, DType::f64, &g), 0.5))),
          Tensor::randn({B, L, N}, DType::f64, &g),
          Tensor::randn({B, L, N}, DType::f64, &g),
          Tensor::randn({D}, DType::f64, &g),
          Tensor::randn({B, L, D}, DType::f64, &g),
          mul(Tensor::randn({D}, DType::f64, &g), 0.3)};
}

TEST(Varlen, SelectiveScanPackedEqualsSeparate) {
  static const char* names[] = {"u", "delta", "A", "B", "C", "D", "z", "delta_bias"};
  int64_t L = vl::row_length(kRows);
  for (auto disc : {Discretization::zoh, Discretization::zoh_exact, Discretization::bilinear}) {
    for (auto algo : {ScanAlgorithm::sequential, ScanAlgorithm::parallel}) {
      SCOPED_TRACE(std::string(discretization_name(disc)) + " " + scan_algorithm_name(algo));
      Generator g(11);
      std::vector<Tensor> in = scan_inputs(g, 2, L, 5, 3);
      Tensor gout = Tensor::randn({2, L, 5}, DType::f64, &g);
      SelectiveScanOptions o{.discretization = disc, .algorithm = algo, .chunk = 4};
      vl::Fn f = [&](const std::vector<Tensor>& x, const Tensor& ss) {
        return selective_scan(x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7], o, nullptr, ss);
      };
      std::vector<bool> sliced = {true, true, false, true, true, false, true, false};
      expect_same(vl::run_packed(f, in, gout, kRows, Device::cpu(), DType::f64),
                  vl::run_separate(f, in, sliced, gout, kRows, Device::cpu(), DType::f64), names);
    }
  }
}

TEST(Varlen, SelectiveScanFinalStateIsTheLastSequences) {
  int64_t L = vl::row_length(kRows);
  Generator g(12);
  std::vector<Tensor> in = scan_inputs(g, 2, L, 5, 3);
  Tensor fin, fin_last;
  selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], {}, &fin,
                 vl::seq_start(kRows));
  // Row 0's last sequence starts at 16, row 1's at 10: run row 0's alone.
  auto last = [](const Tensor& t) { return t.narrow(0, 0, 1).narrow(1, 16, 7); };
  selective_scan(last(in[0]), last(in[1]), in[2], last(in[3]), last(in[4]), in[5], last(in[6]),
                 in[7], {}, &fin_last);
  EXPECT_CLOSE(fin.narrow(0, 0, 1), fin_last, kTight);
}

TEST(Varlen, LogSpaceScanRejectsSeqStart) {
  Generator g(13);
  std::vector<Tensor> in = scan_inputs(g, 2, vl::row_length(kRows), 5, 3);
  SelectiveScanOptions o{.algorithm = ScanAlgorithm::log_space};
  EXPECT_THROW(selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], o, nullptr,
                              vl::seq_start(kRows)),
               Error);
  // A wrong shape or a floating seq_start is an error too.
  EXPECT_THROW(selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], {}, nullptr,
                              Tensor::zeros({2, 3}, DType::i64)),
               Error);
  EXPECT_THROW(causal_conv1d(in[0], Tensor::randn({5, 4}, DType::f64, &g), Tensor(), false,
                             vl::seq_start(kRows).to(DType::f64)),
               Error);
}

TEST(Varlen, CausalConvPackedEqualsSeparate) {
  static const char* names[] = {"x", "weight", "bias"};
  int64_t L = vl::row_length(kRows);
  for (int64_t W : {2, 4, 6}) {
    for (bool silu : {false, true}) {
      SCOPED_TRACE("W " + std::to_string(W) + (silu ? " silu" : ""));
      Generator g(20 + W);
      std::vector<Tensor> in = {Tensor::randn({2, L, 6}, DType::f64, &g),
                                Tensor::randn({6, W}, DType::f64, &g),
                                Tensor::randn({6}, DType::f64, &g)};
      Tensor gout = Tensor::randn({2, L, 6}, DType::f64, &g);
      vl::Fn f = [&](const std::vector<Tensor>& x, const Tensor& ss) {
        return causal_conv1d(x[0], x[1], x[2], silu, ss);
      };
      expect_same(vl::run_packed(f, in, gout, kRows, Device::cpu(), DType::f64),
                  vl::run_separate(f, in, {true, false, false}, gout, kRows, Device::cpu(), DType::f64),
                  names);
    }
  }
}

TEST(Varlen, MambaBlockPackedEqualsSeparate) {
  int64_t L = vl::row_length(kRows);
  nn::MambaConfig cfg;
  cfg.d_model = 8;
  cfg.d_state = 4;
  cfg.d_conv = 4;
  cfg.scan_chunk = 4;
  cfg.dtype = DType::f64;
  Generator g(30);
  nn::Mamba block(cfg, g);
  std::vector<Tensor> in = {Tensor::randn({2, L, 8}, DType::f64, &g)};
  Tensor gout = Tensor::randn({2, L, 8}, DType::f64, &g);
  vl::Fn f = [&](const std::vector<Tensor>& x, const Tensor& ss) { return block.forward(x[0], ss); };
  expect_same(vl::run_packed(f, in, gout, kRows, Device::cpu(), DType::f64, block.parameters()),
              vl::run_separate(f, in, {true}, gout, kRows, Device::cpu(), DType::f64,
                               block.parameters()));
}

TEST(Varlen, LMPackedEqualsSeparate) {
  int64_t L = vl::row_length(kRows);
  models::ModelConfig c;
  c.options = {{"vocab_size", 13}, {"d_model", 12}, {"d_state", 5}, {"n_layer", 2}, {"d_conv", 3},
               {"scan_chunk", 4}};
  c.dtype = DType::f64;
  for (bool ckpt : {false, true}) {
    SCOPED_TRACE(ckpt ? "checkpointing" : "no checkpointing");
    Generator g(40);
    std::unique_ptr<models::Model> m = models::create_model(c, g);
    models::Model& model = *m;
    model.set_gradient_checkpointing(ckpt);
    std::vector<Tensor> in = {Tensor::randint({2, L}, 0, 13, DType::i64, &g)};
    Tensor gout = Tensor::randn({2, L, 13}, DType::f64, &g);
    vl::Fn f = [&](const std::vector<Tensor>& x, const Tensor& ss) { return model.forward(x[0], ss); };
    expect_same(vl::run_packed(f, in, gout, kRows, Device::cpu(), DType::f64, model.parameters()),
                vl::run_separate(f, in, {true}, gout, kRows, Device::cpu(), DType::f64,
                                 model.parameters()));
  }
}

// Without seq_start (or with only t = 0 marked) nothing changes.
TEST(Varlen, OnlyRowStartsChangeNothing) {
  int64_t L = 17;
  Generator g(50);
  std::vector<Tensor> in = scan_inputs(g, 2, L, 5, 3);
  Tensor ss = Tensor::zeros({2, L}, DType::i32);
  SelectiveScanOptions o{.chunk = 4};
  Tensor a = selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], o);
  Tensor b = selective_scan(in[0], in[1], in[2], in[3], in[4], in[5], in[6], in[7], o, nullptr, ss);
  EXPECT_CLOSE(a, b, (Tol{0, 0}));
  Tensor w = Tensor::randn({5, 4}, DType::f64, &g);
  EXPECT_CLOSE(causal_conv1d(in[0], w, Tensor(), true), causal_conv1d(in[0], w, Tensor(), true, ss),
               (Tol{0, 0}));
}

}  // namespace
}  // namespace ssm
