// CUDA softmax / log_softmax against the float64 CPU op, forward and backward: rows of the last
// dim (warp per row, block per row for long rows such as a vocabulary), other dims (K > 1),
// non-contiguous inputs, every floating dtype.
#include <gtest/gtest.h>

#include "cuda/gpu_test.h"

#include <cmath>

#include "core/autograd.h"
#include "core/cuda/runtime.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "ops/softmax.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::Tol;

class CudaSoftmax : public ::ssm::testing::GpuTest<> {};

const Device kGpu = Device::cuda(0);

TEST_F(CudaSoftmax, ForwardAndBackwardAgainstCpu) {
  Generator g(1);
  struct Case {
    Shape shape;
    int dim;
    bool transpose;
  };
  Case cases[] = {{{1000, 768}, -1, false}, {{16, 50257}, -1, false}, {{7, 33, 5}, 1, false},
                  {{40, 3}, 0, false},      {{65, 31}, -1, true},     {{5, 1}, -1, false},
                  {{3, 9, 2000}, 0, false}};
  for (const Case& c : cases) {
    Tensor x = mul(Tensor::randn(c.shape, DType::f64, &g), 3.0);
    for (bool lg : {false, true})
      for (DType dt : {DType::f64, DType::f32, DType::bf16, DType::f16}) {
        SCOPED_TRACE(std::string(lg ? "log_softmax " : "softmax ") + dtype_name(dt) + " " +
                     ::testing::PrintToString(std::vector<int64_t>(c.shape.begin(), c.shape.end())));
        auto f = [lg, &c](const Tensor& t) {
          Tensor in = c.transpose ? t.transpose(0, 1) : t;
          return lg ? log_softmax(in, c.dim) : softmax(in, c.dim);
        };
        Tensor xr = x.to(dt).to(DType::f64);
        Tensor xc = xr.detach().requires_grad_(true);
        Tensor yc = f(xc);
        Tensor gy = Tensor::randn(yc.shape(), DType::f64, &g).to(dt).to(DType::f64);
        yc.backward(gy);
        Tensor xg = xr.to(dt).to(kGpu).requires_grad_(true);
        Tensor yg = f(xg);
        yg.backward(gy.to(dt).to(kGpu));
        Tol t = dt == DType::f64 ? Tol{1e-12, 1e-10} : dt == DType::f32 ? Tol{1e-5, 1e-4} : Tol{2e-2, 2e-2};
        EXPECT_CLOSE(yg.detach().cpu().to(DType::f64), yc.detach(), t);
        // 16-bit backward works from the rounded output y (as the CPU and PyTorch do): for
        // log_softmax, exp(y) sum(g) over a 50257-wide row amplifies y's rounding, so the element
        // bound is looser there; the RMS bound still catches a wrong kernel
        Tol tg = dt == DType::bf16 || dt == DType::f16 ? Tol{0.15, 5e-2, 1e-2} : t;
        EXPECT_CLOSE(xg.grad().cpu().to(DType::f64), xc.grad(), tg);
      }
  }
}

}  // namespace
}  // namespace ssm
