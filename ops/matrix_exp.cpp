// matrix_exp: the op (checks, one autograd record, the block-exponential backward) over its
// kernel tables, the CPU kernel (ops/small_linalg.h, one thread per matrix) and the op's
// test-table entry.
#include "ops/matrix_exp.h"

#include <vector>

#include "core/autograd.h"
#include "core/error.h"
#include "core/parallel.h"
#include "ops/dispatch.h"
#include "ops/join.h"
#include "ops/op_info.h"
#include "ops/small_linalg.h"

namespace ssm {

namespace {

// ---- CPU kernel -----------------------------------------------------------------------------

template <class C>
void expm_batch(const C* a, C* out, int64_t batch, int64_t n) {
  // About 20 products of n x n matrices per exponential.
  parallel_for(0, batch, grain_for_work(20 * n * n * n + 1), [&](int64_t b0, int64_t b1) {
    std::vector<C> w(static_cast<size_t>(linalg::matrix_exp_scratch(n)));
    std::vector<int32_t> piv(static_cast<size_t>(n));
    for (int64_t b = b0; b < b1; ++b)
      linalg::matrix_exp(linalg::SerialTeam{}, n, a + b * n * n, out + b * n * n, w.data(),
                         piv.data());
  });
}

void cpu_forward(const Tensor& A, const Tensor& out) {
  int64_t batch = A.size(0), n = A.size(1);
  if (A.dtype() == DType::f64)
    expm_batch(A.data<double>(), out.data<double>(), batch, n);
  else
    expm_batch(A.data<float>(), out.data<float>(), batch, n);
}

const MatrixExpKernels kCpuKernels = {wide_float_dtypes, cpu_forward};
SSM_REGISTER_KERNELS(MatrixExpKernels, cpu, kCpuKernels);

// exp of every matrix of A (..., n, n) through the table: a fresh tensor of A's shape.
Tensor exp_of(const MatrixExpKernels& k, const Tensor& A) {
  NoGradGuard ng;
  int64_t n = A.size(-1), batch = A.numel() / std::max<int64_t>(n * n, 1);
  Tensor out = Tensor::empty(A.shape(), A.dtype(), A.device());
  if (out.numel() > 0) k.forward(A.contiguous().view({batch, n, n}), out.view({batch, n, n}));
  return out;
}

}  // namespace

// ---- the op ---------------------------------------------------------------------------------

Tensor matrix_exp(const Tensor& A) {
  const char* op = "matrix_exp";
  check_defined(A, op, "A");
  SSM_CHECK(A.dim() >= 2 && A.size(-1) == A.size(-2), op,
            ": A must be a batch of square matrices (..., n, n), got ", describe(A));
  const MatrixExpKernels& k = kernels<MatrixExpKernels>(op, A);
  Tensor out = exp_of(k, A.detach());
  if (needs_grad({A})) {
    Saved sa(A);
    record(OpId::matrix_exp, {A}, out, [sa, &k](Grads& g) {
      NoGradGuard ng;
      const Tensor& a = sa.get();
      int64_t n = a.size(-1);
      // dA = the upper-right block of exp([[Aᵀ, G], [0, Aᵀ]])
      Tensor at = a.transpose(-1, -2);
      Tensor gy = g.out[0].to(a.dtype());
      Tensor zero = Tensor::zeros(a.shape(), a.dtype(), a.device());
      Tensor block = cat({cat({at, gy}, -1), cat({zero, at}, -1)}, -2);
      g.in[0] = exp_of(k, block).narrow(-2, 0, n).narrow(-1, n, n).contiguous();
    });
  }
  return out;
}

// ---- the op's test-table entry (PyTorch side: tools/fixtures/matrix_exp.py,
// torch.linalg.matrix_exp) -----------------------------------------------------------------------

namespace testing {
namespace {

using Tensors = std::vector<Tensor>;

SSM_OP_INFO({.name = "matrix_exp",
             .nodes = {OpId::matrix_exp},
             .run = [](const Tensors& in, const json&) { return Tensors{matrix_exp(in[0])}; },
             .samples = [](Generator& g) {
               return std::vector<Sample>{
                   {"3x3", {uniform(g, {3, 3}, -1, 1)}},
                   {"1x1", {randn(g, {1, 1})}},
                   {"batched (2, 3)", {uniform(g, {2, 3, 4, 4}, -0.5, 0.5)}},
                   // ‖A‖₁ below θ_3: the degree-3 approximant
                   {"small norm", {uniform(g, {3, 3}, -0.002, 0.002)}},
                   // ‖A‖₁ above θ_13: scaled by 2^-s and squared back
                   {"large norm", {uniform(g, {5, 5}, -3, 3)}},
                   {"non-contiguous", {noncontig(uniform(g, {5, 5}, -1, 1))}},
               };
             },
             .lowp = false});

}  // namespace
}  // namespace testing

}  // namespace ssm
