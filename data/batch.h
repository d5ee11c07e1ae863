// A batch of next-token training data, as every data set here produces it.
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace ssm::data {

// Targets equal to this are not trained on: cross_entropy(..., ignore_index = kIgnoreIndex).
inline constexpr int64_t kIgnoreIndex = -100;

struct Batch {
  Tensor ids;      // (B, L) int64: the tokens the model reads
  Tensor targets;  // (B, L) int64: the token to predict after each position, or kIgnoreIndex
};

}  // namespace ssm::data
