// ops/norm beyond the OpInfo table: errors, model-sized rows against a double reference
// (forward and backward), constant rows, bf16, and weight/bias gradients that do not depend on
// the thread count; add_rms_norm against the unfused add + rms_norm it replaces, and its dtypes.
#include <gtest/gtest.h>

#include <cmath>
#include <tuple>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/norm.h"
#include "support/compare.h"

namespace ssm {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

#define EXPECT_ERROR(stmt, ...)                                           \
  do {                                                                    \
    std::string msg = error_of([&] { (void)(stmt); });                    \
    for (const char* part : {__VA_ARGS__})                                \
      EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg; \
  } while (0)

TEST(Norm, Errors) {
  Tensor x = Tensor::zeros({2, 4});
  EXPECT_ERROR(layer_norm(x, Tensor::zeros({3})), "layer_norm", "weight", "(4,)", "(3,)");
  EXPECT_ERROR(layer_norm(x, Tensor(), Tensor::zeros({4, 1})), "layer_norm", "bias", "(4,)");
  EXPECT_ERROR(layer_norm(x, Tensor::zeros({4}, DType::f64)), "layer_norm", "dtype", "float64");
  EXPECT_ERROR(layer_norm(Tensor::zeros({}), Tensor()), "layer_norm", "at least 1 dim");
  EXPECT_ERROR(layer_norm(Tensor::zeros({2, 4}, DType::i32)), "layer_norm", "floating", "int32");
  EXPECT_ERROR(layer_norm(x, Tensor(), Tensor(), -1.0), "layer_norm", "eps");
  EXPECT_ERROR(rms_norm(x, Tensor::zeros({5})), "rms_norm", "weight", "(4,)", "(5,)");
  EXPECT_ERROR(rms_norm(Tensor()), "rms_norm", "input");
  EXPECT_ERROR(rms_norm(x, Tensor(), std::nan("")), "rms_norm", "eps");
}

// Reference in double: layer norm (rms = false) or RMS norm of each row, times w (plus b).
std::vector<double> ref_norm(const std::vector<double>& x, const std::vector<double>& w,
                             const std::vector<double>& b, int64_t D, double eps, bool rms) {
  std::vector<double> y(x.size());
  for (size_t r = 0; r < x.size() / size_t(D); ++r) {
    const double* xr = &x[r * size_t(D)];
    double mu = 0, var = 0;
    if (!rms) {
      for (int64_t d = 0; d < D; ++d) mu += xr[d];
      mu /= double(D);
    }
    for (int64_t d = 0; d < D; ++d) var += (xr[d] - mu) * (xr[d] - mu);
    double rs = 1.0 / std::sqrt(var / double(D) + eps);
    for (int64_t d = 0; d < D; ++d)
      y[r * size_t(D) + size_t(d)] = (xr[d] - mu) * rs * w[size_t(d)] + (rms ? 0.0 : b[size_t(d)]);
  }
  return y;
}

TEST(Norm, ModelSizedRowsMatchDoubleReference) {
  Generator gen(1);
  const int64_t D = 768;  // 33 rows of a Mamba-130M-wide hidden state
  Tensor x = Tensor::randn({3, 11, D}, DType::f32, &gen) * 3.0;
  Tensor w = Tensor::randn({D}, DType::f32, &gen), b = Tensor::randn({D}, DType::f32, &gen);
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
  Shape s{3, 11, D};
  EXPECT_CLOSE(layer_norm(x, w, b), Tensor::from_vector(ref_norm(xv, wv, bv, D, 1e-5, false), s),
               (testing::Tol{1e-5, 1e-5}));
  EXPECT_CLOSE(rms_norm(x, w), Tensor::from_vector(ref_norm(xv, wv, bv, D, 1e-6, true), s),
               (testing::Tol{1e-5, 1e-5}));
}

// Backward of a model-sized float32 case against the float64 op (itself gradient-checked).
TEST(Norm, Float32BackwardMatchesFloat64) {
  Generator gen(2);
  const int64_t D = 1024;
  Tensor x = Tensor::randn({70, D}, DType::f64, &gen);
  Tensor w = Tensor::randn({D}, DType::f64, &gen), b = Tensor::randn({D}, DType::f64, &gen);
  Tensor g = Tensor::randn({70, D}, DType::f64, &gen);
  for (bool rms : {false, true}) {
    SCOPED_TRACE(rms ? "rms_norm" : "layer_norm");
    std::vector<Tensor> grads[2];
    for (DType dt : {DType::f64, DType::f32}) {
      Tensor xl = x.to(dt).detach().requires_grad_(), wl = w.to(dt).detach().requires_grad_();
      Tensor bl = b.to(dt).detach().requires_grad_();
      Tensor y = rms ? rms_norm(xl, wl) : layer_norm(xl, wl, bl);
      y.backward(g.to(dt));
      grads[dt == DType::f32] = {xl.grad(), wl.grad(), rms ? Tensor() : bl.grad()};
    }
    for (int k = 0; k < 3; ++k)
      if (grads[0][size_t(k)].defined())
        EXPECT_CLOSE(grads[1][size_t(k)], grads[0][size_t(k)], (testing::Tol{1e-4, 1e-4}));
  }
}

TEST(Norm, ConstantRowIsFinite) {
  Tensor x = Tensor::full({2, 16}, 3.0);
  Tensor y = layer_norm(x);
  for (double v : y.to_vector<double>()) EXPECT_EQ(v, 0.0);
  Tensor z = rms_norm(Tensor::zeros({16}));
  for (double v : z.to_vector<double>()) EXPECT_EQ(v, 0.0);
}

TEST(Norm, BFloat16ComputesInFloat32) {
  Generator gen(3);
  const int64_t D = 2048;
  Tensor x = (Tensor::randn({4, D}, DType::f32, &gen) * 5.0 + 100.0).to(DType::bf16);
  Tensor w = Tensor::randn({D}, DType::f32, &gen).to(DType::bf16);
  Tensor y = rms_norm(x, w);
  EXPECT_EQ(y.dtype(), DType::bf16);
  Tensor ref = rms_norm(x.to(DType::f64), w.to(DType::f64));
  EXPECT_CLOSE(y.to(DType::f64), ref, testing::default_tol(DType::bf16));
  // a large mean and a small spread: the statistics must not be taken in bf16
  Tensor yl = layer_norm(x, w);
  EXPECT_CLOSE(yl.to(DType::f64), layer_norm(x.to(DType::f64), w.to(DType::f64)),
               testing::default_tol(DType::bf16));
}

TEST(Norm, ParameterGradientsDoNotDependOnThreadCount) {
  Generator gen(4);
  Tensor x = Tensor::randn({1000, 96}, DType::f32, &gen);
  Tensor g = Tensor::randn({1000, 96}, DType::f32, &gen);
  Tensor w = Tensor::randn({96}, DType::f32, &gen), b = Tensor::randn({96}, DType::f32, &gen);
  auto grads = [&](int threads) {
    set_num_threads(threads);
    Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
    Tensor bl = b.detach().requires_grad_(), wr = w.detach().requires_grad_();
    layer_norm(xl, wl, bl).backward(g);
    rms_norm(x, wr).backward(g);
    return std::vector<Tensor>{xl.grad(), wl.grad(), bl.grad(), wr.grad()};
  };
  int before = num_threads();
  auto g1 = grads(1), g2 = grads(2);
  set_num_threads(before);
  for (size_t k = 0; k < g1.size(); ++k) EXPECT_CLOSE(g1[k], g2[k], (testing::Tol{0, 0}));
}

TEST(AddRmsNorm, Errors) {
  Tensor x = Tensor::zeros({2, 4}), w = Tensor::ones({4});
  EXPECT_ERROR(add_rms_norm(x, Tensor::zeros({2, 5}), w), "add_rms_norm", "residual", "shape",
               "(2, 5)");
  EXPECT_ERROR(add_rms_norm(x, Tensor::zeros({4}), w), "add_rms_norm", "residual", "shape");
  EXPECT_ERROR(add_rms_norm(x, x, Tensor::ones({3})), "add_rms_norm", "weight", "(4,)", "(3,)");
  EXPECT_ERROR(add_rms_norm(x, x, Tensor::ones({4}, DType::f64)), "add_rms_norm", "weight",
               "float64");
  EXPECT_ERROR(add_rms_norm(x, Tensor::zeros({2, 4}, DType::f64), w), "add_rms_norm", "residual",
               "float64");
  // A bf16 residual cannot be the float32 stream residual_in_fp32 asks for.
  Tensor xb = x.to(DType::bf16);
  EXPECT_ERROR(add_rms_norm(xb, xb, w, 1e-6, true), "add_rms_norm", "residual_in_fp32",
               "float32", "bfloat16");
  EXPECT_ERROR(add_rms_norm(Tensor(), x, w), "add_rms_norm", "input");
  EXPECT_ERROR(add_rms_norm(Tensor::zeros({2, 4}, DType::i32), Tensor(), w), "add_rms_norm",
               "floating");
  EXPECT_ERROR(add_rms_norm(x, x, w, -1.0), "add_rms_norm", "eps");
}

// The fused op against what the LM computed before it: h = add(residual, x), y = rms_norm(h).
// Same operations in the same order, so in float32 y, r and the weight gradient (from both
// outputs; rows > 64 use several weight-gradient blocks) are bitwise equal. dx = dresidual =
// gr + rstd (...) may differ in the last bit: the compiler may contract that product and sum into
// one FMA, where the unfused path rounds the product before the autograd engine adds gr.
TEST(AddRmsNorm, EqualsTheUnfusedAddAndRmsNorm) {
  Generator gen(5);
  const int64_t D = 768;
  Tensor x = Tensor::randn({3, 37, D}, DType::f32, &gen), res = Tensor::randn({3, 37, D}, DType::f32, &gen);
  Tensor w = Tensor::randn({D}, DType::f32, &gen);
  Tensor gy = Tensor::randn({3, 37, D}, DType::f32, &gen), gr = Tensor::randn({3, 37, D}, DType::f32, &gen);
  for (bool with_res : {true, false}) {
    SCOPED_TRACE(with_res ? "with residual" : "first layer");
    std::vector<Tensor> out[2];  // y, r, dx, dresidual, dweight: fused, unfused
    for (int fused = 0; fused < 2; ++fused) {
      Tensor xl = x.detach().requires_grad_(), rl = res.detach().requires_grad_();
      Tensor wl = w.detach().requires_grad_();
      Tensor y, r;
      if (fused) {
        std::tie(y, r) = add_rms_norm(xl, with_res ? rl : Tensor(), wl, 1e-5, true);
      } else {
        r = with_res ? add(rl, xl) : mul(xl, 1.0);
        y = rms_norm(r, wl, 1e-5);
      }
      std::vector<Tensor> roots{y, r}, grads{gy, gr};
      run_backward(roots, grads, false);
      out[fused] = {y, r, xl.grad(), with_res ? rl.grad() : Tensor::zeros({1}), wl.grad()};
    }
    const char* names[] = {"y", "r", "dx", "dresidual", "dweight"};
    for (size_t k = 0; k < out[0].size(); ++k) {
      SCOPED_TRACE(names[k]);
      bool input_grad = k == 2 || k == 3;  // values up to ~8: a float32 ulp is below 1e-6
      EXPECT_CLOSE(out[1][k], out[0][k], (input_grad ? testing::Tol{1e-6, 2e-7} : testing::Tol{0, 0}));
    }
  }
}

// add_layer_norm against the unfused add + layer_norm it fuses (float64: every output and
// gradient, the bias's too, to rounding), with and without a residual and affine parameters.
TEST(AddLayerNorm, EqualsTheUnfusedAddAndLayerNorm) {
  Generator gen(8);
  const int64_t D = 50;
  Tensor x = Tensor::randn({4, 9, D}, DType::f64, &gen), res = Tensor::randn({4, 9, D}, DType::f64, &gen);
  Tensor w = Tensor::randn({D}, DType::f64, &gen), b = Tensor::randn({D}, DType::f64, &gen);
  Tensor gy = Tensor::randn({4, 9, D}, DType::f64, &gen), gr = Tensor::randn({4, 9, D}, DType::f64, &gen);
  for (bool with_res : {true, false})
    for (bool affine : {true, false}) {
      SCOPED_TRACE(std::string(with_res ? "with residual" : "first layer") + (affine ? ", affine" : ""));
      std::vector<Tensor> out[2];
      for (int fused = 0; fused < 2; ++fused) {
        Tensor xl = x.detach().requires_grad_(), rl = res.detach().requires_grad_();
        Tensor wl = w.detach().requires_grad_(), bl = b.detach().requires_grad_();
        Tensor wa = affine ? wl : Tensor(), ba = affine ? bl : Tensor();
        Tensor y, r;
        if (fused) {
          std::tie(y, r) = add_layer_norm(xl, with_res ? rl : Tensor(), wa, ba, 1e-5);
        } else {
          r = with_res ? add(rl, xl) : mul(xl, 1.0);
          y = layer_norm(r, wa, ba, 1e-5);
        }
        std::vector<Tensor> roots{y, r}, grads{gy, gr};
        run_backward(roots, grads, false);
        Tensor none = Tensor::zeros({1}, DType::f64);
        out[fused] = {y, r, xl.grad(), with_res ? rl.grad() : none, affine ? wl.grad() : none,
                      affine ? bl.grad() : none};
      }
      const char* names[] = {"y", "r", "dx", "dresidual", "dweight", "dbias"};
      for (size_t k = 0; k < out[0].size(); ++k) {
        SCOPED_TRACE(names[k]);
        EXPECT_CLOSE(out[1][k], out[0][k], (testing::Tol{1e-12, 1e-12}));
      }
    }
  Tensor xf = Tensor::zeros({2, 4}), wf = Tensor::ones({4});
  EXPECT_ERROR(add_layer_norm(xf, xf, wf, Tensor::ones({3})), "add_layer_norm", "bias", "(4,)");
  EXPECT_ERROR(add_layer_norm(xf.to(DType::bf16), Tensor(), wf, Tensor::ones({4}, DType::bf16)),
               "add_layer_norm", "one dtype");
  EXPECT_ERROR(add_layer_norm(xf, Tensor::zeros({2, 5}), wf), "add_layer_norm", "residual", "shape");
}

// The mixed-precision case of the model under autocast: bf16 x (a mixer's output), a float32
// residual stream and float32 weight. r is float32 and exact (x + residual in float32), y is
// rms_norm(r) rounded once to bf16, and each gradient comes back in its input's dtype.
TEST(AddRmsNorm, BFloat16InputWithAFloat32Residual) {
  Generator gen(6);
  const int64_t D = 96;
  Tensor x = Tensor::randn({5, D}, DType::f32, &gen).to(DType::bf16);
  Tensor res = Tensor::randn({5, D}, DType::f32, &gen), w = Tensor::randn({D}, DType::f32, &gen);
  Tensor xl = x.detach().requires_grad_(), rl = res.detach().requires_grad_();
  Tensor wl = w.detach().requires_grad_();
  auto [y, r] = add_rms_norm(xl, rl, wl, 1e-5, true);
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(r.dtype(), DType::f32);
  Tensor r_ref = add(res, x.to(DType::f32));
  EXPECT_CLOSE(r, r_ref, (testing::Tol{0, 0}));
  EXPECT_CLOSE(y, rms_norm(r_ref, w, 1e-5).to(DType::bf16), (testing::Tol{0, 0}));
  Tensor gy = Tensor::randn({5, D}, DType::f32, &gen).to(DType::bf16);
  Tensor gr = Tensor::randn({5, D}, DType::f32, &gen);
  std::vector<Tensor> roots{y, r}, grads{gy, gr};
  run_backward(roots, grads, false);
  EXPECT_EQ(xl.grad().dtype(), DType::bf16);
  EXPECT_EQ(rl.grad().dtype(), DType::f32);
  EXPECT_EQ(wl.grad().dtype(), DType::f32);
  // Against float64 on the same values: the bf16 dx carries one rounding.
  Tensor x64 = x.to(DType::f64).detach().requires_grad_(), r64 = res.to(DType::f64).detach().requires_grad_();
  Tensor w64 = w.to(DType::f64).detach().requires_grad_();
  auto [y64, rr64] = add_rms_norm(x64, r64, w64, 1e-5, true);
  std::vector<Tensor> roots64{y64, rr64}, grads64{gy.to(DType::f64), gr.to(DType::f64)};
  run_backward(roots64, grads64, false);
  EXPECT_CLOSE(y.to(DType::f64), y64, testing::default_tol(DType::bf16));
  EXPECT_CLOSE(xl.grad().to(DType::f64), x64.grad(), testing::default_tol(DType::bf16));
  EXPECT_CLOSE(rl.grad(), r64.grad(), (testing::Tol{1e-5, 1e-5}));
  EXPECT_CLOSE(wl.grad(), w64.grad(), (testing::Tol{1e-5, 1e-5}));

  // The first layer: no residual yet, residual_in_fp32 starts a float32 stream from bf16 x.
  auto [y0, r0] = add_rms_norm(x, Tensor(), w, 1e-5, true);
  EXPECT_EQ(r0.dtype(), DType::f32);
  EXPECT_CLOSE(r0, x.to(DType::f32), (testing::Tol{0, 0}));
  // Without residual_in_fp32 and without a residual, r keeps x's dtype.
  EXPECT_EQ(add_rms_norm(x, Tensor(), w, 1e-5, false).second.dtype(), DType::bf16);
}

TEST(AddRmsNorm, WeightGradientDoesNotDependOnThreadCount) {
  Generator gen(7);
  Tensor x = Tensor::randn({1000, 96}, DType::f32, &gen), res = Tensor::randn({1000, 96}, DType::f32, &gen);
  Tensor gy = Tensor::randn({1000, 96}, DType::f32, &gen);
  Tensor w = Tensor::randn({96}, DType::f32, &gen);
  auto grads = [&](int threads) {
    set_num_threads(threads);
    Tensor xl = x.detach().requires_grad_(), wl = w.detach().requires_grad_();
    add_rms_norm(xl, res, wl, 1e-5, true).first.backward(gy);
    return std::vector<Tensor>{xl.grad(), wl.grad()};
  };
  int before = num_threads();
  auto g1 = grads(1), g2 = grads(2);
  set_num_threads(before);
  for (size_t k = 0; k < g1.size(); ++k) EXPECT_CLOSE(g1[k], g2[k], (testing::Tol{0, 0}));
}

}  // namespace
}  // namespace ssm
