// layer_norm / rms_norm on CUDA against the float64 CPU op: rows longer than a block (D not a
// multiple of 32), many rows (weight/bias gradients over many row blocks), non-contiguous input.
#include "ops/norm.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using NormCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed, double mean = 0) {
  Generator g(seed);
  Tensor t = Tensor::randn(s, DType::f64, &g);
  if (mean == 0) return t;
  std::vector<double> v = t.to_vector<double>();
  for (double& x : v) x += mean;
  return Tensor::from_vector(v, s);
}

Tol tol_for(DType dt) {
  // float32: sums over up to 20000 rows for the weight gradient
  return dt == DType::f64 ? Tol{1e-10, 1e-9} : dt == DType::f32 ? Tol{1e-3, 1e-4, 1e-5} : default_tol(dt);
}

TEST_F(NormCuda, LayerNorm) {
  auto ln = [](const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], 1e-5); };
  auto ln0 = [](const std::vector<Tensor>& in) { return layer_norm(in[0]); };
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    check_dense(ln, {rn({3, 41, 1537}, 1, 2.0), rn({1537}, 2), rn({1537}, 3)}, dt, tol_for(dt), 4);
    check_dense(ln, {rn({5000, 64}, 5), rn({64}, 6), rn({64}, 7)}, dt, tol_for(dt), 8);
    check_dense(ln0, {rn({7, 3}, 9)}, dt, tol_for(dt), 10);
    check_dense(ln, {rn({6, 33, 40}, 11), rn({40}, 12), rn({40}, 13)}, dt, tol_for(dt), 14, true, {0});
  }
}

TEST_F(NormCuda, RmsNorm) {
  auto rms = [](const std::vector<Tensor>& in) { return rms_norm(in[0], in[1], 1e-6); };
  auto rms0 = [](const std::vector<Tensor>& in) { return rms_norm(in[0]); };
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    check_dense(rms, {rn({2, 300, 768}, 21), rn({768}, 22)}, dt, tol_for(dt), 23);
    check_dense(rms, {rn({20000, 24}, 24), rn({24}, 25)}, dt, tol_for(dt), 26);
    check_dense(rms0, {rn({9, 2561}, 27)}, dt, tol_for(dt), 28);
    check_dense(rms, {rn({6, 33, 40}, 29), rn({40}, 30)}, dt, tol_for(dt), 31, true, {0});
  }
}

}  // namespace
}  // namespace ssm::testing
