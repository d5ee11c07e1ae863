// The batch every data set here produces: the Model interface's (models/model.h).
#pragma once

#include "models/model.h"

namespace ssm::data {

using models::Batch;
// Targets equal to this are not trained on: cross_entropy(..., ignore_index = kIgnoreIndex).
using models::kIgnoreIndex;

}  // namespace ssm::data
