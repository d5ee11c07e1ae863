// The list of every kind of autograd Node, one line per op family.
//
// Adding an op that records a Node means adding it here; tests/ops/registry_test.cpp then fails
// until the op has a float64 gradcheck and a PyTorch fixture (its op-table entry, beside the op in ops/).
#pragma once

#define SSM_OP_LIST(X)                                                                       \
  /* core: views, copies, casts */                                                           \
  X(view) X(permute) X(expand) X(narrow) X(clone) X(cast) X(view_as_real) X(view_as_complex) \
  /* ops/elementwise: unary */                                                               \
  X(neg) X(exp) X(log) X(sqrt) X(rsqrt) X(pow) X(abs) X(tanh) X(sigmoid) X(silu) X(gelu)     \
  X(softplus) X(relu) X(clamp)                                                               \
  /* ops/elementwise: binary and ternary */                                                  \
  X(add) X(sub) X(mul) X(div) X(pow_tensor) X(where)                                         \
  /* ops/reduce */                                                                           \
  X(sum) X(mean) X(max) X(min) X(var) X(logsumexp)                                           \
  /* ops/softmax, ops/cross_entropy */                                                       \
  X(softmax) X(log_softmax) X(cross_entropy)                                                 \
  /* ops/matmul */                                                                           \
  X(matmul) X(linear)                                                                        \
  /* ops/embedding, ops/norm, ops/dropout */                                                 \
  X(embedding) X(layer_norm) X(rms_norm) X(add_rms_norm) X(add_layer_norm) X(dropout)     \
  /* ops/join: cat, stack, split, chunk */                                                   \
  X(cat) X(split)                                                                            \
  /* ops/index */                                                                            \
  X(gather) X(index_select) X(scatter_add)                                                   \
  /* ops/cumsum, ops/flip, ops/pad */                                                        \
  X(cumsum) X(flip) X(pad)                                                                   \
  /* ops/glu */                                                                              \
  X(glu)                                                                                     \
  /* ops/causal_conv1d, ops/selective_scan */                                                \
  X(causal_conv1d) X(selective_scan)                                                         \
  /* ops/matrix_exp, ops/solve: small dense matrices */                                      \
  X(matrix_exp) X(solve)                                                                     \
  /* ops/fft, ops/fft_conv, ops/long_conv */                                                 \
  X(fft) X(ifft) X(rfft) X(irfft) X(fft_conv) X(long_conv)                                   \
  /* ops/vandermonde, ops/cauchy, ops/diag_scan: the kernels of S4D, S4 and S5 */            \
  X(vandermonde) X(cauchy) X(diag_scan)                                                      \
  /* ops/attention */                                                                        \
  X(attention)                                                                               \
  /* core/autograd: recompute-in-backward */                                                 \
  X(checkpoint)
