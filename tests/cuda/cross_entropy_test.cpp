// cross_entropy on CUDA against the float64 CPU op: a GPT-2-sized vocabulary, ignore_index,
// label smoothing, every reduction, int32 targets, the class dim in the middle, the vector and
// element-wise paths of the kernels, and the error for a target out of range.
#include "ops/cross_entropy.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using CrossEntropyCuda = CudaDense;

Tensor rn(const Shape& s, uint64_t seed) {
  Generator g(seed);
  return Tensor::randn(s, DType::f64, &g);
}

Tensor targets(const Shape& s, int64_t C, uint64_t seed, int64_t ignore_every = 0) {
  Generator g(seed);
  std::vector<int64_t> v = Tensor::randint(s, 0, C, DType::i64, &g).to_vector<int64_t>();
  if (ignore_every)
    for (size_t i = 0; i < v.size(); i += size_t(ignore_every)) v[i] = -100;
  return Tensor::from_vector(v, s);
}

TEST_F(CrossEntropyCuda, Vocabulary) {
  for (DType dt : {DType::f64, DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tol tol = dt == DType::f64   ? Tol{1e-10, 1e-9}
                    : dt == DType::f32 ? Tol{1e-4, 1e-4}
                                       : default_tol(dt);
    for (Reduction red : {Reduction::mean, Reduction::sum, Reduction::none})
      for (double eps : {0.0, 0.1}) {
        SCOPED_TRACE(std::to_string(int(red)) + " eps " + std::to_string(eps));
        CrossEntropyOptions o;
        o.reduction = red;
        o.label_smoothing = eps;
        auto ce = [o](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], o); };
        check_dense(ce, {rn({37, 50257}, 1), targets({37}, 50257, 2, 5)}, dt, tol, 3);
      }
  }
}

TEST_F(CrossEntropyCuda, ClassDimInTheMiddleAndInt32) {
  CrossEntropyOptions o;
  auto ce = [o](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], o); };
  for (DType dt : {DType::f64, DType::f32}) {
    Tol tol = dt == DType::f64 ? Tol{1e-10, 1e-9} : Tol{1e-4, 1e-4};
    check_dense(ce, {rn({4, 300, 7}, 10), targets({4, 7}, 300, 11, 3)}, dt, tol, 12);
    check_dense(ce, {rn({6, 33}, 13), targets({6}, 33, 14).to(DType::i32)}, dt, tol, 15);
    check_dense(ce, {rn({33}, 16), Tensor::scalar(4, DType::i64)}, dt, tol, 17);
    // non-contiguous logits
    check_dense(ce, {rn({9, 40}, 18), targets({9}, 40, 19)}, dt, tol, 20, true, {0});
  }
}

// Targets at both ends of the row (in the kernels' scalar head and tail), one row ignored.
Tensor edge_targets(int64_t M, int64_t C) {
  std::vector<int64_t> v(static_cast<size_t>(M));
  for (int64_t m = 0; m < M; ++m) v[size_t(m)] = ((m % 2 ? C - 1 - m / 2 : m / 2) % C + C) % C;
  v[3] = -100;
  return Tensor::from_vector(v, {M});
}

// Rows of class stride 1 are read in 16-byte vectors between a scalar head and tail: C a
// multiple of 8 (aligned rows, vectors only), C odd (each row sits differently; C = 5 is shorter
// than some heads), and rows one element in from a longer stride (the contiguous gradient then
// sits differently from the logits, and the backward takes the element-wise path).
TEST_F(CrossEntropyCuda, VectorHeadTailAndUnalignedRows) {
  for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
    SCOPED_TRACE(dtype_name(dt));
    const Tol tol = dt == DType::f64   ? Tol{1e-10, 1e-9}
                    : dt == DType::f32 ? Tol{1e-4, 1e-4}
                                       : default_tol(dt);
    for (double eps : {0.0, 0.1}) {
      SCOPED_TRACE("eps " + std::to_string(eps));
      CrossEntropyOptions o;
      o.reduction = Reduction::sum;
      o.label_smoothing = eps;
      auto ce = [o](const std::vector<Tensor>& in) { return cross_entropy(in[0], in[1], o); };
      for (int64_t C : {4096, 1003, 5})
        check_dense(ce, {rn({16, C}, 30), edge_targets(16, C)}, dt, tol, 31);
      CrossEntropyOptions on = o;
      on.reduction = Reduction::none;
      auto inner = [on](const std::vector<Tensor>& in) {
        return cross_entropy(in[0].narrow(1, 1, 1003), in[1], on);
      };
      check_dense(inner, {rn({16, 1006}, 32), edge_targets(16, 1003)}, dt, tol, 33);
    }
  }
}

TEST_F(CrossEntropyCuda, TargetOutOfRange) {
  Tensor x = Tensor::randn({4, 10}).to(Device::cuda(0));
  Tensor t = Tensor::from_vector(std::vector<int64_t>{1, 2, 10, 3}, {4}).to(Device::cuda(0));
  try {
    cross_entropy(x, t);
    FAIL() << "no error for a target out of range";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("position (2)"), std::string::npos) << m;
    EXPECT_NE(m.find("is 10"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ssm::testing
