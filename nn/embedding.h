// Embedding: a (num_embeddings, dim) table looked up by integer ids, initialised N(0, 1) as
// torch.nn.Embedding.
#pragma once

#include "core/rng.h"
#include "nn/module.h"

namespace ssm::nn {

class Embedding : public Module {
 public:
  Embedding(int64_t num_embeddings, int64_t dim, Generator& gen, DType dtype = DType::f32);
  Tensor forward(const Tensor& ids) const;  // ids: (...) int -> (..., dim)

  Tensor weight;
};

}  // namespace ssm::nn
