// embedding on CUDA against the float64 CPU op: many repeated ids (deterministic sums), int32 and
// non-contiguous ids, padding_idx, a transposed table, and the error for an id out of range.
#include "ops/embedding.h"
#include "tests/cuda/dense_check.h"

namespace ssm::testing {
namespace {

using EmbeddingCuda = CudaDense;

TEST_F(EmbeddingCuda, MatchesCpu) {
  Generator g(1);
  Tensor w = Tensor::randn({1000, 300}, DType::f64, &g);
  Tensor ids = Tensor::randint({8, 512}, 0, 50, DType::i64, &g);  // heavy repeats
  for (DType dt : {DType::f64, DType::f32, DType::bf16}) {
    SCOPED_TRACE(dtype_name(dt));
    // bfloat16: a sum of ~80 rows rounded once
    Tol tol = dt == DType::f64 ? Tol{1e-12, 1e-12} : dt == DType::f32 ? Tol{1e-5, 1e-5} : default_tol(dt);
    auto emb = [](const std::vector<Tensor>& in) { return embedding(in[0], in[1]); };
    auto emb_pad = [](const std::vector<Tensor>& in) { return embedding(in[0], in[1], -997); };
    check_dense(emb, {w, ids}, dt, tol, 2);
    check_dense(emb_pad, {w, ids}, dt, tol, 3);
    check_dense(emb, {w, ids.to(DType::i32)}, dt, tol, 4);
    check_dense(emb, {w, Tensor::randint({33, 7}, 0, 1000, DType::i64, &g)}, dt, tol, 5, true, {1});
    check_dense(emb, {Tensor::randn({40, 17}, DType::f64, &g), Tensor::randint({70}, 0, 40, DType::i64, &g)},
                dt, tol, 6, true, {0});
  }
}

TEST_F(EmbeddingCuda, IdOutOfRange) {
  Tensor w = Tensor::randn({10, 4}).to(Device::cuda(0));
  Tensor ids = Tensor::from_vector(std::vector<int64_t>{1, 2, 3, -1}, {2, 2}).to(Device::cuda(0));
  try {
    embedding(w, ids);
    FAIL() << "no error for an id out of range";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("id -1 at position (1, 1)"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace ssm::testing
