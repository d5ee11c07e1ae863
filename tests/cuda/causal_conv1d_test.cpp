// causal_conv1d (with and without the fused SiLU) and causal_conv1d_step on CUDA against the
// float64 CPU op: every width 2..8, D not a multiple of 32, L across several time runs, a
// non-contiguous x, no bias.
#include "ops/causal_conv1d.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using ConvCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

TEST_F(ConvCuda, EveryWidth) {
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16})
    for (int64_t W = 2; W <= 8; ++W)
      for (bool silu : {false, true}) {
        SCOPED_TRACE(std::string(dtype_name(dt)) + " W " + std::to_string(W) + (silu ? " silu" : ""));
        // float32: weight gradients sum ~1000 products
        Tol tol = dt == DType::f64 ? Tol{1e-10, 1e-9} : dt == DType::f32 ? Tol{1e-4, 1e-4, 1e-5} : default_tol(dt);
        auto conv = [silu](const std::vector<Tensor>& in) { return causal_conv1d(in[0], in[1], in[2], silu); };
        auto conv_nb = [silu](const std::vector<Tensor>& in) { return causal_conv1d(in[0], in[1], Tensor(), silu); };
        check_dense(conv, {rn({3, 300, 200}, W), rn({200, W}, 10 + W), rn({200}, 20 + W)}, dt, tol, 30 + W);
        check_dense(conv_nb, {rn({2, 5, 33}, 40 + W), rn({33, W}, 50 + W)}, dt, tol, 60 + W);
        // x (B, D, L) transposed to (B, L, D): channel stride L
        check_dense(conv, {rn({2, 70, 19}, 70 + W), rn({19, W}, 80 + W), rn({19}, 90 + W)}, dt, tol,
                    100 + W, true, {0});
      }
}

TEST_F(ConvCuda, StepMatchesCpu) {
  for (DType dt : {DType::f32, DType::bf16})
    for (bool silu : {false, true}) {
      Generator g(7);
      int64_t B = 3, D = 70, W = 4;
      Tensor st = Tensor::randn({B, D, W}, DType::f64, &g).to(dt);
      Tensor w = Tensor::randn({D, W}, DType::f64, &g).to(dt), b = Tensor::randn({D}, DType::f64, &g).to(dt);
      Tensor st_d = st.to(Device::cuda(0)), w_d = w.to(Device::cuda(0)), b_d = b.to(Device::cuda(0));
      for (int step = 0; step < 6; ++step) {
        Tensor x = Tensor::randn({B, D}, DType::f64, &g).to(dt);
        Tensor y = causal_conv1d_step(st, x, w, b, silu);
        Tensor y_d = causal_conv1d_step(st_d, x.to(Device::cuda(0)), w_d, b_d, silu);
        EXPECT_CLOSE(y_d.cpu().to(DType::f64), y.to(DType::f64), default_tol(dt));
        EXPECT_CLOSE(st_d.cpu().to(DType::f64), st.to(DType::f64), (Tol{0, 0}));
      }
    }
}

}  // namespace
}  // namespace ssm::testing
