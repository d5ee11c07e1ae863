// matmul / bmm / linear on CUDA (cuBLASLt, cublasDgemm) against the float64 CPU op: Mamba's
// shapes (in_proj, x_proj, out_proj, the decoding M = 1 products), odd sizes, broadcast and
// transposed operands, sums over broadcast batch dims, the TF32 policy.
#include <cstdlib>

#include "ops/elementwise.h"
#include "ops/matmul.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using MatmulCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

const Tol kF32{1e-3, 1e-3, 1e-5};  // sums of up to 768 float32 products

TEST_F(MatmulCuda, LinearMambaShapes) {
  auto lin = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  auto lin_nb = [](const std::vector<Tensor>& in) { return linear(in[0], in[1]); };
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tol tol = dt == DType::f64 ? Tol{1e-10, 1e-9} : dt == DType::f32 ? kF32 : default_tol(dt);
    // in_proj (no bias) and a biased layer with odd sizes; batch dims folded into rows
    check_dense(lin_nb, {rn({2, 37, 768}, 1), rn({1536, 768}, 2)}, dt, tol, 3);
    check_dense(lin, {rn({3, 33, 129}, 4), rn({77, 129}, 5), rn({77}, 6)}, dt, tol, 7);
    // decoding: M = 1
    check_dense(lin, {rn({1, 768}, 8), rn({3072, 768}, 9), rn({3072}, 10)}, dt, tol, 11);
    check_dense(lin_nb, {rn({768}, 12), rn({48, 768}, 13)}, dt, tol, 14);
  }
}

// As the CPU test Linear.WeightGradOfA16BitCastOfFloat32LeafStaysFloat32: the weight gradient of
// a bf16 cast of a float32 leaf (autocast) comes out of cuBLASLt in float32 (no rounding to bf16,
// no cast kernel), at Mamba's in_proj shape with the batch folded into the contracted rows.
TEST_F(MatmulCuda, WeightGradOfA16BitCastStaysFloat32) {
  const Device gpu = Device::cuda(0);
  Tensor w = rn({1536, 768}, 21).to(DType::f32).to(gpu).requires_grad_();
  Tensor x = rn({2, 37, 768}, 22).to(DType::bf16);
  Tensor g = rn({2, 37, 1536}, 23).to(DType::bf16);
  linear(x.to(gpu), w.to(DType::bf16)).backward(g.to(gpu));
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().dtype(), DType::f32);
  Tensor ref = matmul(g.to(DType::f64).reshape({74, 1536}).t(), x.to(DType::f64).reshape({74, 768}));
  EXPECT_CLOSE(w.grad().cpu().to(DType::f64), ref, (Tol{1e-4, 1e-5}));
}

// x feeds a linear and a product by 3 (which runs first in backward): the linear adds its dx
// into the gradient the product passed back, in the GEMM's epilogue (Grads::prior); the sum
// must equal the float64 CPU one.
TEST_F(MatmulCuda, InputGradientAddedIntoTheOtherConsumersOne) {
  const Device gpu = Device::cuda(0);
  for (DType dt : {DType::bf16, DType::f32}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x64 = rn({2, 37, 96}, 31).to(dt).to(DType::f64), w64 = rn({40, 96}, 32).to(dt).to(DType::f64);
    Tensor g64 = rn({2, 37, 40}, 33).to(dt).to(DType::f64);
    Tensor x = x64.to(dt).to(gpu).requires_grad_();
    Tensor y = linear(x, w64.to(dt).to(gpu)), z = mul(x, 3.0);
    run_backward(std::vector<Tensor>{y, z}, std::vector<Tensor>{g64.to(dt).to(gpu), Tensor::ones(z.shape(), dt, gpu)}, false);
    Tensor ref = add(matmul(g64, w64), 3.0);
    EXPECT_CLOSE(x.grad().cpu().to(DType::f64), ref, dt == DType::f32 ? kF32 : default_tol(dt));
  }
}

TEST_F(MatmulCuda, LinearNonContiguousInput) {
  auto lin = [](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); };
  // x (4, 24, 40) transposed in its last two dims: the batch cannot fold into rows; a
  // transposed weight is read as a transpose.
  for (DType dt : {DType::f32, DType::bf16})
    check_dense(lin, {rn({4, 24, 40}, 20), rn({19, 40}, 21), rn({19}, 22)}, dt,
                dt == DType::f32 ? kF32 : default_tol(dt), 23, true, {0, 1});
}

TEST_F(MatmulCuda, BatchedBroadcastTransposed) {
  auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  auto bmm2 = [](const std::vector<Tensor>& in) { return bmm(in[0], in[1]); };
  for (DType dt : {DType::f64, DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tol tol = dt == DType::f64 ? Tol{1e-10, 1e-9} : dt == DType::f32 ? kF32 : default_tol(dt);
    // batch broadcast both ways: dA and dB are sums over broadcast batch dims
    check_dense(mm, {rn({3, 1, 65, 33}, 30), rn({5, 33, 17}, 31)}, dt, tol, 32);
    check_dense(mm, {rn({65, 33}, 33), rn({4, 33, 300}, 34)}, dt, tol, 35);
    // strided batch of equal shapes, b a transposed view on the device (a leaf, so its gradient
    // comes back contiguous)
    check_dense(bmm2, {rn({6, 45, 70}, 36), rn({6, 70, 81}, 37)}, dt, tol, 38, true, {1});
    // vector operands
    check_dense(mm, {rn({129}, 39), rn({129}, 40)}, dt, tol, 41);
    check_dense(mm, {rn({7, 129}, 42), rn({129}, 43)}, dt, tol, 44);
    // a row vector per batch: batch dims (2, 1) and (3) broadcast to (2, 3)
    check_dense(mm, {rn({2, 1, 1, 129}, 45), rn({3, 129, 9}, 46)}, dt, tol, 47);
  }
}

TEST_F(MatmulCuda, Tf32Policy) {
  auto mm = [](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); };
  EXPECT_FALSE(cuda::allow_tf32() && std::getenv("SSM_ALLOW_TF32") == nullptr);
  cuda::set_allow_tf32(true);
  // TF32 inputs carry 10 mantissa bits: about 1e-3 relative per product, so sums of 512 unit
  // products are off by ~0.02 (up to ~0.07 over 1e5 elements); the RMS bound is the real check.
  check_dense(mm, {rn({256, 512}, 50), rn({512, 384}, 51)}, DType::f32, Tol{0.1, 1e-2, 2e-3}, 52);
  cuda::set_allow_tf32(false);
  check_dense(mm, {rn({256, 512}, 50), rn({512, 384}, 51)}, DType::f32, kF32, 52);
}

}  // namespace
}  // namespace ssm::testing
