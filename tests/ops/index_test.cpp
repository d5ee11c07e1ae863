// ops/index beyond the OpInfo table: error messages (out-of-range values with their position and
// bound), any dtype for the gathers, float32 sums for bf16 scatter_add, integer scatter_add, and
// results that do not depend on the thread count.
#include <gtest/gtest.h>

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/rng.h"
#include "ops/index.h"

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

Tensor ids(std::vector<int64_t> v, const Shape& s) { return Tensor::from_vector(v, s); }
Tensor vals(std::vector<double> v, const Shape& s) { return Tensor::from_vector(v, s); }

TEST(Index, GatherValues) {
  Tensor x = vals({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(gather(x, 1, ids({2, 0, 0, 1, 1, 1}, {2, 3})).to_vector<double>(),
            (std::vector<double>{3, 1, 1, 5, 5, 5}));
  EXPECT_EQ(gather(x, 0, ids({1, 0}, {1, 2})).to_vector<double>(), (std::vector<double>{4, 2}));
  // An expanded (stride 0) x and an int32 index.
  Tensor row = vals({7, 8, 9}, {1, 3}).expand({4, 3});
  Tensor y = gather(row, 1, ids({2, 1, 0, 2}, {4, 1}).to(DType::i32));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{9, 8, 7, 9}));
}

TEST(Index, GatherMovesBitsOfAnyDtype) {
  Tensor h = Tensor::from_vector(std::vector<float>{1.0078125f, -3.5f, 65280.0f}, {3}).to(DType::f16);
  Tensor y = gather(h, 0, ids({2, 2, 0}, {3}));
  EXPECT_EQ(y.dtype(), DType::f16);
  EXPECT_EQ(y.to_vector<float>(), (std::vector<float>{65280.0f, 65280.0f, 1.0078125f}));
  Tensor b = Tensor::from_vector(std::vector<int64_t>{0, 1, 1}, {3}).to(DType::b8);
  EXPECT_EQ(index_select(b, 0, ids({1, 0}, {2})).to_vector<int64_t>(), (std::vector<int64_t>{1, 0}));
}

TEST(Index, GatherErrors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR(gather(x, 1, ids({0, 1, 2, 0, 5, 1}, {2, 3})), "gather", "index 5",
               "position (1, 1)", "dim 1 of size 3", "0 <= index < 3");
  EXPECT_ERROR(gather(x, 0, ids({-1}, {1, 1})), "gather", "index -1", "position (0, 0)", "size 2");
  EXPECT_ERROR(gather(x, 0, Tensor::zeros({1, 1})), "gather", "int32 or int64", "float32");
  EXPECT_ERROR(gather(x, 0, ids({0}, {1})), "gather", "as many dims", "2");
  EXPECT_ERROR(gather(x, 0, ids({0, 0, 0, 0}, {1, 4})), "gather", "larger than x", "dim 1");
  EXPECT_ERROR(gather(x, 2, ids({0}, {1, 1})), "gather", "dim 2", "out of range");
  EXPECT_ERROR(gather(Tensor(), 0, ids({0}, {1})), "gather", "'x'", "undefined");
}

TEST(Index, IndexSelectValuesAndErrors) {
  Tensor x = vals({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(index_select(x, 1, ids({2, 2, 0}, {3})).to_vector<double>(),
            (std::vector<double>{3, 3, 1, 6, 6, 4}));
  EXPECT_EQ(index_select(x, 0, ids({1}, {})).shape(), (Shape{1, 3}));
  Tensor s = index_select(Tensor::scalar(4.0), 0, ids({0}, {1}));
  EXPECT_EQ(s.dim(), 0);
  EXPECT_EQ(s.item<float>(), 4.0f);
  EXPECT_ERROR(index_select(x, 0, ids({0, 2, 1}, {3})), "index_select", "index 2", "position (1,)",
               "dim 0 of size 2");
  EXPECT_ERROR(index_select(x, 1, ids({0, 1}, {1, 2})), "index_select", "1-D", "(1, 2)");
  EXPECT_ERROR(index_select(x, 1, Tensor::zeros({2}, DType::b8)), "index_select", "int32 or int64", "bool");
  EXPECT_ERROR(index_select(Tensor::scalar(1.0), 0, ids({0, 0}, {2})), "index_select",
               "exactly one index");
}

TEST(Index, IndexSelectBackwardSumsRepeats) {
  Tensor x = Tensor::zeros({3, 2}, DType::f64).requires_grad_();
  Tensor y = index_select(x, 0, ids({2, 0, 2, 2}, {4}));
  y.backward(vals({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 4, 0, 0, 1 + 5 + 7, 2 + 6 + 8}));
}

TEST(Index, ScatterAddValues) {
  Tensor x = vals({1, 1, 1, 1, 1, 1}, {2, 3});
  Tensor y = scatter_add(x, 1, ids({0, 0, 2, 1}, {2, 2}), vals({10, 20, 30, 40, 50, 60}, {2, 3}));
  EXPECT_EQ(y.to_vector<double>(), (std::vector<double>{31, 1, 1, 1, 51, 41}));
  EXPECT_EQ(x.to_vector<double>(), std::vector<double>(6, 1.0)) << "x must not be modified";
  // Integers are summed exactly in their own dtype.
  Tensor xi = Tensor::from_vector(std::vector<int32_t>{0, 0}, {2});
  Tensor yi = scatter_add(xi, 0, ids({1, 1, 0}, {3}), Tensor::from_vector(std::vector<int32_t>{5, 6, 7}, {3}));
  EXPECT_EQ(yi.dtype(), DType::i32);
  EXPECT_EQ(yi.to_vector<int64_t>(), (std::vector<int64_t>{7, 11}));
}

TEST(Index, ScatterAddSumsBf16InFloat32) {
  // 300 ones into one bf16 element: a bf16 running sum would stall at 256 (256 + 1 rounds back to
  // 256); summing in float32 and rounding once gives 300, which bf16 represents exactly.
  Tensor x = Tensor::zeros({1}, DType::bf16);
  Tensor y = scatter_add(x, 0, Tensor::zeros({300}, DType::i64), Tensor::ones({300}, DType::bf16));
  EXPECT_EQ(y.dtype(), DType::bf16);
  EXPECT_EQ(y.item<float>(), 300.0f);
}

TEST(Index, ScatterAddErrors) {
  Tensor x = Tensor::zeros({2, 3});
  EXPECT_ERROR(scatter_add(x, 0, ids({0, 2}, {1, 2}), Tensor::ones({1, 2})), "scatter_add", "index 2",
               "position (0, 1)", "dim 0 of size 2");
  EXPECT_ERROR(scatter_add(x, 0, ids({0}, {1, 1}), Tensor::ones({1, 1}, DType::f64)), "scatter_add",
               "src has dtype float64", "x has float32");
  EXPECT_ERROR(scatter_add(x, 0, ids({0}, {1}), Tensor::ones({1})), "scatter_add", "same number of dims");
  EXPECT_ERROR(scatter_add(x, 0, ids({0, 0}, {2, 1}), Tensor::ones({1, 1})), "scatter_add",
               "larger than src", "dim 0");
  EXPECT_ERROR(scatter_add(x, 0, ids({0, 0, 0, 0}, {1, 4}), Tensor::ones({1, 4})), "scatter_add",
               "or x", "dim 1");
  // Along the scattered dim, index may be longer than x.
  EXPECT_NO_THROW(scatter_add(x, 1, ids({0, 0, 0, 0}, {1, 4}), Tensor::ones({1, 4})));
  EXPECT_ERROR(scatter_add(Tensor::zeros({2}, DType::b8), 0, ids({0}, {1}), Tensor::zeros({1}, DType::b8)),
               "scatter_add", "floating, int32 or int64", "bool");
  EXPECT_ERROR(scatter_add(x, 0, Tensor::zeros({1, 1}), Tensor::ones({1, 1})), "scatter_add",
               "int32 or int64");
}

TEST(Index, ScatterAddIsTheSameOnAnyThreadCount) {
  // 65536 columns: enough positions for the kernel to split them across threads.
  Generator g(3);
  Tensor x = Tensor::randn({4, 65536}, DType::f32, &g);
  Tensor index = Tensor::randint({16, 65536}, 0, 4, DType::i64, &g);
  Tensor src = Tensor::randn({16, 65536}, DType::f32, &g);
  int before = num_threads();
  set_num_threads(1);
  std::vector<float> one = scatter_add(x, 0, index, src).to_vector<float>();
  std::vector<float> gathered_one = gather(x, 0, index).to_vector<float>();
  set_num_threads(std::max(before, 2));
  std::vector<float> many = scatter_add(x, 0, index, src).to_vector<float>();
  std::vector<float> gathered_many = gather(x, 0, index).to_vector<float>();
  set_num_threads(before);
  EXPECT_EQ(one, many);
  EXPECT_EQ(gathered_one, gathered_many);
  // Spot-check one column against a plain serial sum in index order.
  auto xv = x.to_vector<float>(), iv = index.to_vector<float>(), sv = src.to_vector<float>();
  for (int64_t col : {0, 40000, 65535}) {
    float expect[4];
    for (int r = 0; r < 4; ++r) expect[r] = xv[size_t(r * 65536 + col)];
    for (int j = 0; j < 16; ++j) expect[int(iv[size_t(j * 65536 + col)])] += sv[size_t(j * 65536 + col)];
    for (int r = 0; r < 4; ++r) EXPECT_EQ(one[size_t(r * 65536 + col)], expect[r]) << "column " << col;
  }
}

TEST(Index, ScatterAddOnPermutedInputsMatchesASerialLoop) {
  // 3-D, permuted src and index, scattered along the middle dim: positions outside that dim do
  // not coalesce and the threads' chunks end in the middle of runs.
  Generator g(4);
  Tensor x = Tensor::randn({100, 3, 60}, DType::f64, &g);
  Tensor src = Tensor::randn({60, 100, 9}, DType::f64, &g).permute({1, 2, 0});             // (100, 9, 60)
  Tensor index = Tensor::randint({9, 60, 100}, 0, 3, DType::i32, &g).permute({2, 0, 1});  // (100, 9, 60)
  int before = num_threads();
  set_num_threads(std::max(before, 2));
  std::vector<double> y = scatter_add(x, 1, index, src).to_vector<double>();
  set_num_threads(before);
  std::vector<double> ref = x.to_vector<double>(), sv = src.to_vector<double>();
  std::vector<int64_t> iv = index.to_vector<int64_t>();
  for (int64_t a = 0; a < 100; ++a)
    for (int64_t j = 0; j < 9; ++j)
      for (int64_t c = 0; c < 60; ++c) {
        size_t p = size_t((a * 9 + j) * 60 + c);
        ref[size_t((a * 3 + iv[p]) * 60 + c)] += sv[p];
      }
  EXPECT_EQ(y, ref);
}

}  // namespace
}  // namespace ssm
