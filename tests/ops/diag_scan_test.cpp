// diag_scan beyond the op table (tests/ops/{gradcheck,fixture}_test.cpp run its samples): the
// chunked parallel scan against the plain recurrence at longer lengths and many chunk counts,
// resets that fall on chunk boundaries, and the errors.
#include "ops/diag_scan.h"

#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <vector>

#include "core/parallel.h"
#include "support/compare.h"
#include "support/errors.h"

namespace ssm {
namespace {

using cd = std::complex<double>;
using testing::Tol;

// The recurrence written out, from ops/diag_scan.h.
std::vector<cd> reference(const std::vector<double>& lam, bool per_step, const std::vector<double>& b,
                          const std::vector<int64_t>& rst, int64_t B, int64_t L, int64_t P,
                          bool reverse) {
  std::vector<cd> x(size_t(B * L * P));
  for (int64_t bi = 0; bi < B; ++bi)
    for (int64_t p = 0; p < P; ++p) {
      cd s = 0;
      for (int64_t j = 0; j < L; ++j) {
        int64_t k = reverse ? L - 1 - j : j;
        int64_t at = reverse ? k + 1 : k;
        if (j == 0 || (!rst.empty() && at < L && rst[size_t(bi * L + at)])) s = 0;
        size_t li = per_step ? size_t(((bi * L + k) * P + p) * 2) : size_t(p * 2);
        size_t i = size_t((bi * L + k) * P + p);
        s = cd(lam[li], lam[li + 1]) * s + cd(b[2 * i], b[2 * i + 1]);
        x[i] = s;
      }
    }
  return x;
}

Tensor lambdas(const Shape& modes, Generator& g) {
  std::vector<double> r = Tensor::uniform(modes, 0.8, 1.0, DType::f64, &g).to_vector<double>();
  std::vector<double> t = Tensor::uniform(modes, -3.0, 3.0, DType::f64, &g).to_vector<double>();
  std::vector<double> v;
  for (size_t i = 0; i < r.size(); ++i) {
    v.push_back(r[i] * std::cos(t[i]));
    v.push_back(r[i] * std::sin(t[i]));
  }
  Shape s = modes;
  s.push_back(2);
  return Tensor::from_vector(v, s);
}

TEST(DiagScan, ChunkedEqualsRecurrence) {
  Generator g(3);
  const int64_t B = 2, L = 300, P = 5;
  std::vector<int64_t> rst(size_t(B * L), 0);
  for (int64_t t : {40, 75, 76, 150, 299}) rst[size_t(t)] = 1;  // 75 and 150: chunk edges (4 chunks)
  rst[size_t(L + 100)] = 1;
  Tensor rs = Tensor::from_vector(rst, {B, L});
  for (bool per_step : {false, true})
    for (bool reverse : {false, true})
      for (bool packed : {false, true}) {
        Tensor lam = per_step ? lambdas({B, L, P}, g) : lambdas({P}, g);
        Tensor b = Tensor::randn({B, L, P, 2}, DType::f64, &g);
        std::vector<cd> want = reference(lam.to_vector<double>(), per_step, b.to_vector<double>(),
                                         packed ? rst : std::vector<int64_t>{}, B, L, P, reverse);
        std::vector<double> wv;
        for (cd z : want) {
          wv.push_back(z.real());
          wv.push_back(z.imag());
        }
        Tensor expected = Tensor::from_vector(wv, {B, L, P, 2});
        for (int64_t chunks : {1, 2, 4, 7, 300, 1000}) {
          SCOPED_TRACE(std::string(per_step ? "per step" : "time-invariant") +
                       (reverse ? ", reverse" : "") + (packed ? ", packed" : "") + ", chunks " +
                       std::to_string(chunks));
          Tensor x = diag_scan(lam, b, reverse, packed ? rs : Tensor(), chunks);
          EXPECT_CLOSE(x, expected, (Tol{1e-11, 1e-10}));
          EXPECT_CLOSE(diag_scan(lam.to(DType::f32), b.to(DType::f32), reverse,
                                 packed ? rs : Tensor(), chunks)
                           .to(DType::f64),
                       expected, (Tol{1e-4, 1e-4}));
        }
      }
}

TEST(DiagScan, AutoSplitEqualsSequentialAtEveryThreadCount) {
  Generator g(4);
  Tensor lam = lambdas({64}, g), b = Tensor::randn({1, 2000, 64, 2}, DType::f64, &g);
  Tensor seq = diag_scan(lam, b, false, Tensor(), 1);
  int before = num_threads();
  for (int t : {1, 2, 3, 8}) {
    set_num_threads(t);
    EXPECT_CLOSE(diag_scan(lam, b), seq, (Tol{1e-11, 1e-10}));
  }
  set_num_threads(before);
}

TEST(DiagScan, Errors) {
  Tensor b = Tensor::zeros({2, 3, 4, 2}, DType::f64);
  auto err = [](const std::function<void()>& fn) { return testing::error_of(fn); };
  EXPECT_NE(err([&] { diag_scan(Tensor::zeros({5, 2}, DType::f64), b); }).find("lambda must be (modes, 2)"),
            std::string::npos);
  EXPECT_NE(err([&] { diag_scan(Tensor::zeros({4, 2}, DType::f32), b); }).find("b's dtype"),
            std::string::npos);
  EXPECT_NE(err([&] { diag_scan(Tensor::zeros({4, 2}, DType::f64), Tensor::zeros({2, 3, 4}, DType::f64)); })
                .find("complex pairs"),
            std::string::npos);
  EXPECT_NE(err([&] { diag_scan(Tensor::zeros({4, 2}, DType::f64), b, false, Tensor::zeros({2, 4}, DType::i64)); })
                .find("seq_start must be (B, L)"),
            std::string::npos);
  EXPECT_NE(err([&] { diag_scan(Tensor::zeros({4, 2}, DType::f64), b, false, Tensor::zeros({2, 3}, DType::f64)); })
                .find("int32, int64 or bool"),
            std::string::npos);
}

}  // namespace
}  // namespace ssm
