// The multi-tensor optimizer ops (ops/optim.h) on the CPU: the AdamW formula term by term in
// float64, mixed grad dtypes equal to converting the grads first, bfloat16 params, the global
// norm against a direct sum, scale_ equal to mul, and the argument errors. (train/adamw.cpp runs
// on these; tests/train/optim_test.cpp checks it against PyTorch.)
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/optim.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

TEST(FusedOptim, AdamWStepIsTheTorchFormulaInFloat64) {
  Generator gen(1);
  std::vector<Shape> shapes = {{5}, {3, 7}, {1}};
  std::vector<Tensor> p, g, m, v;
  for (const Shape& s : shapes) {
    p.push_back(Tensor::randn(s, DType::f64, &gen));
    g.push_back(Tensor::randn(s, DType::f64, &gen));
    m.push_back(Tensor::randn(s, DType::f64, &gen) * 0.1);
    v.push_back(Tensor::rand(s, DType::f64, &gen) * 0.1);
  }
  std::vector<double> lr = {1e-2, 2e-3, 5e-1}, wd = {0.1, 0.0, 0.3};
  double b1 = 0.9, b2 = 0.99, eps = 1e-6;
  int64_t step = 3;
  std::vector<std::vector<double>> p0, g0, m0, v0;
  for (size_t i = 0; i < p.size(); ++i) {
    p0.push_back(p[i].to_vector<double>());
    g0.push_back(g[i].to_vector<double>());
    m0.push_back(m[i].to_vector<double>());
    v0.push_back(v[i].to_vector<double>());
  }
  adamw_step_(p, g, m, v, lr, wd, b1, b2, eps, step);
  double bc1 = 1 - std::pow(b1, 3.0), bc2 = 1 - std::pow(b2, 3.0);
  for (size_t i = 0; i < p.size(); ++i) {
    std::vector<double> pp = p[i].to_vector<double>(), mm = m[i].to_vector<double>(),
                        vv = v[i].to_vector<double>();
    for (size_t k = 0; k < pp.size(); ++k) {
      double mk = b1 * m0[i][k] + (1 - b1) * g0[i][k];
      double vk = b2 * v0[i][k] + (1 - b2) * g0[i][k] * g0[i][k];
      double pk = p0[i][k] * (1 - lr[i] * wd[i]) - lr[i] / bc1 * mk / (std::sqrt(vk / bc2) + eps);
      EXPECT_NEAR(mm[k], mk, 1e-15);
      EXPECT_NEAR(vv[k], vk, 1e-15);
      EXPECT_NEAR(pp[k], pk, 1e-14 * (1 + std::abs(pk))) << "tensor " << i << " [" << k << "]";
    }
  }
}

TEST(FusedOptim, GradsOfAnotherDtypeAreConvertedAsTheyAreLoaded) {
  Generator gen(2);
  for (DType gd : {DType::bf16, DType::f16, DType::f64}) {
    SCOPED_TRACE(dtype_name(gd));
    Tensor p = Tensor::randn({1000}, DType::f32, &gen), g = Tensor::randn({1000}, DType::f32, &gen).to(gd);
    Tensor p2 = p.clone(), m = Tensor::zeros({1000}), v = Tensor::zeros({1000}), m2 = m.clone(), v2 = v.clone();
    adamw_step_({p}, {g}, {m}, {v}, {1e-3}, {0.01}, 0.9, 0.999, 1e-8, 1);
    adamw_step_({p2}, {g.to(DType::f32)}, {m2}, {v2}, {1e-3}, {0.01}, 0.9, 0.999, 1e-8, 1);
    EXPECT_CLOSE(p, p2, (Tol{0, 0}));
    EXPECT_CLOSE(m, m2, (Tol{0, 0}));
    EXPECT_CLOSE(v, v2, (Tol{0, 0}));
  }
}

TEST(FusedOptim, Bf16ParamsAreFloat32MasterStepsRoundedOnce) {
  Generator gen(3);
  Tensor p = Tensor::randn({4097}, DType::f64, &gen).to(DType::bf16);
  Tensor g = Tensor::randn({4097}, DType::f32, &gen);
  Tensor p32 = p.to(DType::f32);
  Tensor m = Tensor::zeros({4097}), v = Tensor::zeros({4097}), m2 = m.clone(), v2 = v.clone();
  adamw_step_({p}, {g}, {m}, {v}, {1e-2}, {0.1}, 0.9, 0.999, 1e-8, 1);
  adamw_step_({p32}, {g}, {m2}, {v2}, {1e-2}, {0.1}, 0.9, 0.999, 1e-8, 1);
  EXPECT_CLOSE(p, p32.to(DType::bf16), (Tol{0, 0}));
  EXPECT_CLOSE(m, m2, (Tol{0, 0}));
  // The moments of a bf16 param are float32; anything else is refused.
  Tensor mb = Tensor::zeros({4097}, DType::bf16);
  EXPECT_THROW(adamw_step_({p}, {g}, {mb}, {v}, {1e-2}, {0.1}, 0.9, 0.999, 1e-8, 2), Error);
}

// Shadows (autocast's cached 16-bit casts): each receives its param after the update, rounded
// as a cast rounds it, and its version moves; an undefined entry is skipped; a shadow of the
// wrong shape or dtype is refused.
TEST(FusedOptim, ShadowsGetTheUpdatedParamsRounded) {
  Generator gen(4);
  Tensor p = Tensor::randn({1000}, DType::f32, &gen), q = Tensor::randn({7}, DType::f32, &gen);
  Tensor g = Tensor::randn({1000}, DType::f32, &gen), gq = Tensor::randn({7}, DType::f32, &gen);
  Tensor m = Tensor::zeros({1000}), v = Tensor::zeros({1000}), mq = Tensor::zeros({7}), vq = Tensor::zeros({7});
  for (DType sd : {DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(sd));
    Tensor sh = Tensor::zeros({1000}, sd);
    uint32_t ver = sh.storage()->version;
    adamw_step_({p, q}, {g, gq}, {m, mq}, {v, vq}, {1e-2, 1e-2}, {0.1, 0.1}, 0.9, 0.999, 1e-8, 1,
                {sh, Tensor()});
    EXPECT_CLOSE(sh, p.to(sd), (Tol{0, 0}));
    EXPECT_GT(sh.storage()->version, ver);
  }
  Tensor bad = Tensor::zeros({999}, DType::bf16), f32 = Tensor::zeros({1000});
  EXPECT_THROW(adamw_step_({p}, {g}, {m}, {v}, {1e-2}, {0.1}, 0.9, 0.999, 1e-8, 2, {bad}), Error);
  EXPECT_THROW(adamw_step_({p}, {g}, {m}, {v}, {1e-2}, {0.1}, 0.9, 0.999, 1e-8, 2, {f32}), Error);
  EXPECT_THROW(adamw_step_({p, q}, {g, gq}, {m, mq}, {v, vq}, {1e-2, 1e-2}, {0.1, 0.1}, 0.9, 0.999,
                           1e-8, 2, {Tensor()}),
               Error);
}

TEST(FusedOptim, ArgumentErrorsNameTheOp) {
  Tensor p = Tensor::zeros({3}), g = Tensor::zeros({4}), m = Tensor::zeros({3}), v = Tensor::zeros({3});
  try {
    adamw_step_({p}, {g}, {m}, {v}, {1e-3}, {0.0}, 0.9, 0.999, 1e-8, 1);
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("adamw_step_"), std::string::npos) << e.what();
  }
  EXPECT_THROW(adamw_step_({p}, {p}, {m}, {v}, {1e-3, 1e-3}, {0.0}, 0.9, 0.999, 1e-8, 1), Error);
  EXPECT_THROW(adamw_step_({p}, {p}, {m}, {v}, {1e-3}, {0.0}, 0.9, 0.999, 1e-8, 0), Error);
  EXPECT_THROW(global_grad_norm({Tensor::zeros({2}, DType::i64)}), Error);
}

TEST(FusedOptim, GlobalNormIsTheSquareRootOfAllSquares) {
  Generator gen(4);
  std::vector<Tensor> ts = {Tensor::randn({1000}, DType::f32, &gen), Tensor::randn({3, 5}, DType::f64, &gen),
                            Tensor::randn({77}, DType::f32, &gen).to(DType::bf16)};
  long double want = 0;
  for (const Tensor& t : ts)
    for (double x : t.to_vector<double>()) want += (long double)x * x;
  Tensor n = global_grad_norm(ts);
  EXPECT_EQ(n.dim(), 0);
  EXPECT_EQ(n.dtype(), DType::f64);
  EXPECT_NEAR(n.item<double>(), double(std::sqrt(want)), 1e-14 * double(std::sqrt(want)));
  EXPECT_EQ(global_grad_norm({}).item<double>(), 0.0);
}

TEST(FusedOptim, ScaleIsMulInPlace) {
  Generator gen(5);
  for (DType dt : {DType::f32, DType::f64, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor a = Tensor::randn({33, 9}, DType::f64, &gen).to(dt);
    Tensor b = Tensor::randn({9, 4}, DType::f64, &gen).to(dt).t();  // strided
    Tensor wa = mul(a, 0.37), wb = mul(b, 0.37);
    scale_({a, b}, 0.37);
    EXPECT_CLOSE(a.to(DType::f64), wa.to(DType::f64), (Tol{0, 0}));
    EXPECT_CLOSE(b.to(DType::f64), wb.to(DType::f64), (Tol{0, 0}));
  }
}

}  // namespace
}  // namespace ssm
