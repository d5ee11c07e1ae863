// The S4 mixer: against tools/s4_reference.py (a transcription of state-spaces/s4's s4.py), the
// Cauchy + Woodbury kernel against the dense bilinear discretization, step mode against the
// forward, gradients against finite differences, and the configs it refuses.
#include "nn/s4.h"

#include <gtest/gtest.h>

#include <complex>
#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "io/safetensors.h"
#include "ops/discretize_dense.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "tests/support/compare.h"
#include "tests/support/paths.h"

namespace ssm::nn {
namespace {

using cd = std::complex<double>;
using testing::Tol;

S4Config small_config(int64_t H, int64_t N, int64_t l_max, bool bidirectional = false) {
  S4Config c;
  c.d_model = H;
  c.d_state = N;
  c.l_max = l_max;
  c.dtype = DType::f64;
  c.bidirectional = bidirectional;
  c.causal = !bidirectional;
  c.dt_min = 0.01;
  c.dt_max = 0.5;
  return c;
}

void check_fixture(const std::string& file_name, bool bidirectional) {
  auto file = safetensors::load(testing::tests_dir() + "/fixtures/nn/" + file_name);
  auto get = [&](const std::string& k) {
    auto it = file.tensors.find(k);
    EXPECT_NE(it, file.tensors.end()) << "fixture lacks " << k;
    return it == file.tensors.end() ? Tensor() : it->second;
  };
  Generator gen(0);
  S4 s4(small_config(4, 8, 16, bidirectional), gen);
  std::map<std::string, Tensor> state;
  for (const auto& [name, t] : s4.named_parameters()) state[name] = get(name);
  s4.load_state_dict(state);
  s4.eval();
  Tensor x = get("x").detach().requires_grad_(true);
  Tensor y = s4.forward(x);
  Tol tol{1e-10, 1e-8, 0};
  EXPECT_CLOSE(y, get("y"), tol);
  Tensor gy = get("gy");
  run_backward(std::vector<Tensor>{y}, std::vector<Tensor>{gy}, false);
  EXPECT_CLOSE(x.grad(), get("grad.x"), tol);
  for (const auto& [name, p] : s4.named_parameters()) {
    SCOPED_TRACE(name);
    ASSERT_TRUE(p.grad().defined());
    EXPECT_CLOSE(p.grad(), get("grad." + name), tol);
  }
}

TEST(S4, MatchesPyTorchReference) { check_fixture("s4.safetensors", false); }
TEST(S4, BidirectionalMatchesPyTorchReference) { check_fixture("s4_bidirectional.safetensors", true); }

// The oracle: the full system over the 2M modes with conjugates, embedded as a real 2N x 2N matrix
// ([[Re, -Im], [Im, Re]]), discretized by ops/discretize_dense, and its powers taken one by one.
TEST(S4, KernelEqualsDenseBilinearPowers) {
  const int64_t H = 2, N = 6, M = 3, Lm = 10;
  Generator gen(5);
  S4 s4(small_config(H, N, Lm), gen);
  NoGradGuard ng;
  auto& k = *s4.kernel;
  auto cvals = [](const Tensor& t) {
    auto v = t.contiguous().to_vector<double>();
    std::vector<cd> c(v.size() / 2);
    for (size_t i = 0; i < c.size(); ++i) c[i] = cd(v[2 * i], v[2 * i + 1]);
    return c;
  };
  std::vector<double> ldt = k.inv_dt.to_vector<double>(), ar = k.A_real.to_vector<double>(),
                      ai = k.A_imag.to_vector<double>();
  std::vector<cd> b = cvals(k.B), p = cvals(k.P);
  // Random P and B too, so the low-rank term is not the LegS one only.
  {
    std::vector<double> r = Tensor::randn({H * M * 4}, DType::f64, &gen).to_vector<double>();
    for (int64_t i = 0; i < H * M; ++i) {
      p[size_t(i)] = cd(0.5 * r[size_t(4 * i)], 0.5 * r[size_t(4 * i + 1)]);
      b[size_t(i)] = cd(r[size_t(4 * i + 2)], r[size_t(4 * i + 3)]);
    }
  }
  std::vector<cd> c_raw(static_cast<size_t>(H * M)), c_tilde(static_cast<size_t>(H * M));
  std::vector<double> cr = Tensor::randn({H * M * 2}, DType::f64, &gen).to_vector<double>();
  for (int64_t i = 0; i < H * M; ++i) c_raw[size_t(i)] = cd(cr[size_t(2 * i)], cr[size_t(2 * i + 1)]);
  std::vector<std::vector<double>> expected(static_cast<size_t>(H), std::vector<double>(static_cast<size_t>(Lm)));
  for (int64_t h = 0; h < H; ++h) {
    std::vector<cd> lf(static_cast<size_t>(N)), pf(static_cast<size_t>(N)), bf(static_cast<size_t>(N)), cf(static_cast<size_t>(N));
    for (int64_t m = 0; m < M; ++m) {
      size_t i = size_t(h * M + m);
      cd lam(-std::exp(ar[i]), -ai[i]);
      lf[size_t(m)] = lam, lf[size_t(M + m)] = std::conj(lam);
      pf[size_t(m)] = p[i], pf[size_t(M + m)] = std::conj(p[i]);
      bf[size_t(m)] = b[i], bf[size_t(M + m)] = std::conj(b[i]);
      cf[size_t(m)] = c_raw[i], cf[size_t(M + m)] = std::conj(c_raw[i]);
    }
    std::vector<double> Ar(static_cast<size_t>(4 * N * N)), Br(static_cast<size_t>(2 * N));
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        cd a = (i == j ? lf[size_t(i)] : cd(0)) - pf[size_t(i)] * std::conj(pf[size_t(j)]);
        Ar[size_t(i * 2 * N + j)] = a.real();
        Ar[size_t(i * 2 * N + N + j)] = -a.imag();
        Ar[size_t((N + i) * 2 * N + j)] = a.imag();
        Ar[size_t((N + i) * 2 * N + N + j)] = a.real();
      }
      Br[size_t(i)] = bf[size_t(i)].real();
      Br[size_t(N + i)] = bf[size_t(i)].imag();
    }
    DenseDiscretized d = discretize_dense(Tensor::from_vector(Ar, {2 * N, 2 * N}),
                                          Tensor::from_vector(Br, {2 * N, 1}),
                                          Tensor::scalar(std::exp(ldt[size_t(h)]), DType::f64),
                                          LtiDiscretization::bilinear);
    std::vector<double> ab = d.A_bar.to_vector<double>(), bb = d.B_bar.to_vector<double>();
    std::vector<cd> Ab(static_cast<size_t>(N * N)), x(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) {
      for (int64_t j = 0; j < N; ++j)
        Ab[size_t(i * N + j)] = cd(ab[size_t(i * 2 * N + j)], ab[size_t((N + i) * 2 * N + j)]);
      x[size_t(i)] = cd(bb[size_t(i)], bb[size_t(N + i)]);
    }
    auto apply = [&](const std::vector<cd>& v) {
      std::vector<cd> r(static_cast<size_t>(N));
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) r[size_t(i)] += Ab[size_t(i * N + j)] * v[size_t(j)];
      return r;
    };
    for (int64_t l = 0; l < Lm; ++l) {  // K[l] = C Ā^l B̄
      cd s = 0;
      for (int64_t i = 0; i < N; ++i) s += cf[size_t(i)] * x[size_t(i)];
      EXPECT_NEAR(s.imag(), 0.0, 1e-12);
      expected[size_t(h)][size_t(l)] = s.real();
      x = apply(x);
    }
    // C̃ = C (I - Ā^Lm): x now holds Ā^Lm B̄, so take the rows of Ā^Lm from the powers of e_j.
    std::vector<cd> ct(static_cast<size_t>(N));
    for (int64_t j = 0; j < N; ++j) {
      std::vector<cd> e(static_cast<size_t>(N));
      e[size_t(j)] = 1;
      for (int64_t l = 0; l < Lm; ++l) e = apply(e);  // column j of Ā^Lm
      cd s = cf[size_t(j)];
      for (int64_t i = 0; i < N; ++i) s -= cf[size_t(i)] * e[size_t(i)];
      ct[size_t(j)] = s;
    }
    for (int64_t m = 0; m < M; ++m) c_tilde[size_t(h * M + m)] = ct[size_t(m)];
  }
  auto to_tensor = [](const std::vector<cd>& c, const Shape& shape) {
    std::vector<double> v;
    for (cd x : c) v.push_back(x.real()), v.push_back(x.imag());
    return Tensor::from_vector(v, shape);
  };
  k.P.copy_(to_tensor(p, {1, H, M, 2}));
  k.B.copy_(to_tensor(b, {1, H, M, 2}));
  k.C.copy_(to_tensor(c_tilde, {1, H, M, 2}));
  std::vector<double> got = k.forward(Lm).to_vector<double>();
  for (int64_t h = 0; h < H; ++h)
    for (int64_t l = 0; l < Lm; ++l)
      EXPECT_NEAR(got[size_t(h * Lm + l)], expected[size_t(h)][size_t(l)], 1e-10)
          << "channel " << h << " tap " << l;
  // And C recovered from C̃ (step mode's) is the C the kernel was built from.
  for (int64_t h = 0; h < H; ++h) {
    std::vector<cd> lam(static_cast<size_t>(M)), ph(static_cast<size_t>(M)), cth(static_cast<size_t>(M));
    for (int64_t m = 0; m < M; ++m) {
      size_t i = size_t(h * M + m);
      lam[size_t(m)] = cd(-std::exp(ar[i]), -ai[i]);
      ph[size_t(m)] = p[i];
      cth[size_t(m)] = c_tilde[i];
    }
    std::vector<cd> c = s4_convert_c(std::exp(ldt[size_t(h)]), lam, ph, cth, Lm, false);
    for (int64_t m = 0; m < M; ++m) EXPECT_NEAR(std::abs(c[size_t(m)] - c_raw[size_t(h * M + m)]), 0, 1e-9);
  }
}

TEST(S4, StepAndPrefillEqualForward) {
  Generator gen(7);
  S4 s4(small_config(3, 8, 16), gen);
  s4.eval();
  NoGradGuard ng;
  const int64_t B = 2, L = 11;
  Tensor x = Tensor::randn({B, L, 3}, DType::f64, &gen);
  Tensor y = s4.forward(x);
  auto st = s4.new_state(B);
  Tol tol{1e-9, 1e-7, 0};
  for (int64_t t = 0; t < L; ++t) {
    SCOPED_TRACE("step " + std::to_string(t));
    EXPECT_CLOSE(s4.step(x.select(1, t), *st), y.select(1, t), tol);
  }
  auto st2 = s4.new_state(B);
  const int64_t P = 6;
  EXPECT_CLOSE(s4.prefill(x.narrow(1, 0, P), *st2), y.narrow(1, 0, P), tol);
  for (int64_t t = P; t < L; ++t) EXPECT_CLOSE(s4.step(x.select(1, t), *st2), y.select(1, t), tol);
}

// Every parameter's and the input's gradient against central differences of <forward(x), v>.
TEST(S4, GradientsMatchFiniteDifferences) {
  for (bool bidirectional : {false, true}) {
    SCOPED_TRACE(bidirectional ? "bidirectional" : "causal");
    Generator gen(11);
    S4 s4(small_config(2, 4, 8, bidirectional), gen);
    s4.eval();
    Tensor x = Tensor::randn({2, 6, 2}, DType::f64, &gen).requires_grad_(true);
    Tensor v = Tensor::randn({2, 6, 2}, DType::f64, &gen);
    Tensor y = s4.forward(x);
    run_backward(std::vector<Tensor>{y}, std::vector<Tensor>{v}, false);
    auto params = s4.named_parameters();
    params.emplace_back("x", x);
    NoGradGuard ng;
    for (auto& [name, t] : params) {
      SCOPED_TRACE(name);
      std::vector<double> analytic = t.grad().to_vector<double>();
      double* base = t.data<double>();
      const double eps = 1e-6;
      for (int64_t j = 0; j < t.numel(); ++j) {
        double orig = base[j];
        base[j] = orig + eps;
        double fp = sum(mul(s4.forward(x), v)).item<double>();
        base[j] = orig - eps;
        double fm = sum(mul(s4.forward(x), v)).item<double>();
        base[j] = orig;
        double num = (fp - fm) / (2 * eps);
        EXPECT_NEAR(analytic[size_t(j)], num, 1e-6 + 1e-5 * std::fabs(num)) << "element " << j;
      }
    }
  }
}

TEST(S4, LongerInputSeesLmaxTaps) {
  Generator gen(13);
  S4 s4(small_config(2, 4, 8), gen);
  s4.eval();
  NoGradGuard ng;
  Tensor x = Tensor::randn({1, 20, 2}, DType::f64, &gen);
  Tensor y = s4.forward(x);
  // The first l_max outputs do not depend on the cut.
  EXPECT_CLOSE(y.narrow(1, 0, 8), s4.forward(x.narrow(1, 0, 8)), (Tol{1e-10, 1e-8, 0}));
}

TEST(S4, RejectsBadConfigsAndPackedSequences) {
  const MixerInfo& info = mixer_info("s4");
  MixerContext causal{8, 1, DType::f64, true}, acausal{8, 1, DType::f64, false};
  EXPECT_TRUE(info.check(json{{"d_state", 8}}, causal).empty());
  EXPECT_FALSE(info.check(json{{"bidirectional", true}}, causal).empty());
  EXPECT_TRUE(info.check(json{{"bidirectional", true}}, acausal).empty());
  EXPECT_FALSE(info.check(json{{"d_state", 7}}, causal).empty());
  EXPECT_FALSE(info.check(json{{"dt_min", 0.5}, {"dt_max", 0.1}}, causal).empty());
  bool refused = false;
  try {
    refused = !info.check(json{{"rank", 2}}, causal).empty();
  } catch (const Error&) {
    refused = true;
  }
  EXPECT_TRUE(refused) << "rank 2 accepted";
  Generator gen(1);
  auto m = info.create(json{{"d_state", 4}, {"l_max", 8}}, causal, gen);
  double count = 0;
  for (const Tensor& p : m->parameters()) count += double(p.numel());
  EXPECT_EQ(count, info.parameters(json{{"d_state", 4}, {"l_max", 8}}, causal));
  Tensor x = Tensor::randn({1, 5, 8}, DType::f64, &gen);
  Tensor starts = Tensor::zeros({1, 5}, DType::i64);
  EXPECT_THROW(m->forward(x, starts), Error);
  auto bi = info.create(json{{"d_state", 4}, {"bidirectional", true}}, acausal, gen);
  EXPECT_THROW(bi->new_state(1), Error);
}

}  // namespace
}  // namespace ssm::nn
