// Padding the last dims of a tensor, with torch.nn.functional.pad's conventions.
//
// `pads` lists (left, right) pairs starting from the LAST dim: {l_W, r_W, l_H, r_H, ...}.
// Shapes are written for two pairs: x: (..., H, W) -> out: (..., l_H + H + r_H, l_W + W + r_W).
//   constant:  the new positions hold `value`; any number of dims; negative pads crop.
//   reflect:   mirror without repeating the edge (x[1], x[0] | x[0] ... ); pads < the dim's size.
//   replicate: repeat the edge element.
// reflect and replicate pad the last 1 to 3 dims (as PyTorch), take no `value`, may crop with
// negative pads, and must leave every padded dim non-empty. PyTorch also demands 1 or 2 leading
// (batch, channel) dims for them; here any leading dims are simply batch dims.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.h"

namespace ssm {

enum class PadMode { constant, reflect, replicate };

// "constant", "reflect" or "replicate" -> PadMode; anything else is an ssm::Error.
PadMode pad_mode(const std::string& name);
const char* pad_mode_name(PadMode mode);

// x: (..., H, W) -> (..., l_H + H + r_H, l_W + W + r_W); any dtype (bits are moved).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::constant,
           double value = 0.0);

// ---- kernels (ops/dispatch.h): CPU in ops/pad.cpp, CUDA in ops/cuda/pad.cpp

struct PadKernels {
  bool (*supports)(DType dtype);
  // out (contiguous, the padded shape, non-empty) from x (D >= 1 dims, any strides): each output
  // coordinate reads the input coordinate that `mode` maps it to along every dim, or `fill` (a
  // 0-dim CPU tensor of x's dtype) where constant padding maps it to none. left: the left pad of
  // every dim of x (0 where not padded).
  void (*pad)(const Tensor& x, const std::vector<int64_t>& left, PadMode mode, const Tensor& fill,
              const Tensor& out);
};

}  // namespace ssm
