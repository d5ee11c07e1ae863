// Joining and splitting along one dim: cat, stack, split, chunk (PyTorch semantics).
//
// Dims: N = number of tensors; d = the joined/split dim; shapes are written for d = 0.
// cat requires one dtype for all inputs (it does not promote like torch.cat; convert with .to()
// first). split and chunk return views of x (no copy), like torch.split.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace ssm {

// tensors[i]: (n_i, ...), equal in every dim but `dim` -> (n_0 + ... + n_{N-1}, ...)
Tensor cat(const std::vector<Tensor>& tensors, int64_t dim = 0);

// tensors[i]: (...), all the same shape -> (N, ...) with the new dim at `dim`.
Tensor stack(const std::vector<Tensor>& tensors, int64_t dim = 0);

// x: (n, ...) -> views of (split_size, ...) pieces; the last one is smaller when split_size does
// not divide n. split_size 0 is only allowed when n == 0.
// Note: split(x, {3}) picks this overload (a braced single number converts to int64_t); pass
// std::vector<int64_t>{3} for a one-entry list of sizes.
std::vector<Tensor> split(const Tensor& x, int64_t split_size, int64_t dim = 0);

// x: (n, ...) -> views of (split_sizes[i], ...) pieces; the sizes must sum to n.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& split_sizes,
                          int64_t dim = 0);

// x: (n, ...) -> at most `chunks` views of (ceil(n / chunks), ...) pieces (fewer when the pieces
// run out, as torch.chunk); when n == 0, exactly `chunks` empty pieces.
std::vector<Tensor> chunk(const Tensor& x, int64_t chunks, int64_t dim = 0);

// ---- kernels (ops/dispatch.h): CPU in ops/join.cpp, CUDA in ops/cuda/join.cpp ------------------

struct JoinKernels {
  bool (*supports)(DType dtype);  // every dtype: elements move as bits
  // big = the pieces laid end to end along dim d, piece i filling sizes[i] entries; an undefined
  // piece reads as zeros (cat's forward; split's backward, where a piece got no gradient).
  // big: fresh, contiguous; pieces: big's dtype, any strides.
  void (*join)(const Tensor& big, int d, const std::vector<Tensor>& pieces,
               const std::vector<int64_t>& sizes);
  // cat's backward: window i of gy along d (sizes[i] entries) for every i with wanted[i], else
  // an undefined tensor. CPU: views of gy; CUDA: contiguous copies, all made by one kernel.
  std::vector<Tensor> (*windows)(const Tensor& gy, int d, const std::vector<int64_t>& sizes,
                                 const std::vector<bool>& wanted);
};

}  // namespace ssm
