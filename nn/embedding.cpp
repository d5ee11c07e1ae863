#include "nn/embedding.h"

#include "core/error.h"
#include "ops/embedding.h"

namespace ssm::nn {

Embedding::Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, DType dtype) {
  SSM_CHECK(num_embeddings > 0 && dim > 0, "Embedding: sizes must be > 0, got ", num_embeddings,
            " x ", dim);
  weight = register_parameter("weight", Tensor::randn({num_embeddings, dim}, dtype, &gen));
}

Tensor Embedding::forward(const Tensor& ids) const { return embedding(weight, ids); }

}  // namespace ssm::nn
