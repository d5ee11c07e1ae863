// Dynamic loss scaling (fp16 training): unscaling divides every gradient by the scale; an inf or
// NaN gradient skips the step, leaves the gradients alone and halves the scale; after
// growth_interval good steps the scale doubles; disabled, it is the identity.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/tensor.h"
#include "train/loss_scaler.h"

namespace ssm::train {
namespace {

Tensor param_with_grad(std::vector<float> g) {
  Tensor p = Tensor::zeros({int64_t(g.size())}).requires_grad_(true);
  p.set_grad(Tensor::from_vector(g, {int64_t(g.size())}));
  return p;
}

TEST(LossScaler, UnscalesGrowsAndBacksOff) {
  LossScaler s(true, 1024.0, 2);
  EXPECT_EQ(s.scale(), 1024.0);
  Tensor a = param_with_grad({1024.f, -2048.f}), b = param_with_grad({512.f});
  ASSERT_TRUE(s.unscale({a, b}));
  EXPECT_EQ(a.grad().to_vector<float>(), (std::vector<float>{1.f, -2.f}));
  EXPECT_EQ(b.grad().to_vector<float>(), (std::vector<float>{0.5f}));
  EXPECT_EQ(s.scale(), 1024.0);  // one good step of two
  Tensor c = param_with_grad({3.f});
  ASSERT_TRUE(s.unscale({c}));
  EXPECT_EQ(s.scale(), 2048.0);  // doubled after two good steps

  Tensor bad = param_with_grad({1.f, std::numeric_limits<float>::infinity()});
  EXPECT_FALSE(s.unscale({c, bad}));
  EXPECT_EQ(s.scale(), 1024.0);
  EXPECT_EQ(bad.grad().to_vector<float>()[0], 1.f);  // untouched
  Tensor nan = param_with_grad({std::nanf("")});
  EXPECT_FALSE(s.unscale({nan}));
  EXPECT_EQ(s.scale(), 512.0);
}

TEST(LossScaler, DisabledIsTheIdentity) {
  LossScaler s(false);
  EXPECT_EQ(s.scale(), 1.0);
  Tensor a = param_with_grad({std::numeric_limits<float>::infinity()});
  EXPECT_TRUE(s.unscale({a}));  // bf16/fp32: overflow is the trainer's divergence check's job
  EXPECT_TRUE(std::isinf(a.grad().to_vector<float>()[0]));
}

}  // namespace
}  // namespace ssm::train
