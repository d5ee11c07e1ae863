// The autograd engine: accumulation, graph lifetime, grad mode, hooks, checkpointing and the
// in-place-modification check.
#include <gtest/gtest.h>

#include "core/autograd.h"
#include "core/error.h"
#include "core/rng.h"
#include "ops/elementwise.h"
#include "support/compare.h"

namespace ssm {
namespace {

using testing::default_tol;

Tensor vec(std::vector<double> v) {
  int64_t n = int64_t(v.size());
  return Tensor::from_vector(v, {n});
}

// Sum of all elements via a dot product with ones (keeps this test independent of ops/reduce).
Tensor total(const Tensor& t) {
  Tensor flat = t.reshape({1, -1});
  Tensor ones = Tensor::ones({flat.size(1)}, t.dtype());
  Tensor prod = mul(flat, ones);
  Tensor acc = prod.select(1, 0);
  for (int64_t i = 1; i < flat.size(1); ++i) acc = add(acc, prod.select(1, i));
  return acc.squeeze(0);
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  total(mul(x, x)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 4, 6}));
  total(mul(x, 3.0)).backward();
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{5, 7, 9}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, DiamondGraphsSumBothPaths) {
  Tensor x = vec({0.5, -1}).requires_grad_();
  Tensor a = exp(x), b = mul(x, 2.0);
  total(mul(a, b)).backward();  // d/dx (2 x e^x) = 2 e^x (1 + x)
  auto g = x.grad().to_vector<double>();
  EXPECT_NEAR(g[0], 2 * std::exp(0.5) * 1.5, 1e-12);
  EXPECT_NEAR(g[1], 0.0, 1e-12);
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = total(exp(x));
  y.backward(Tensor(), /*retain_graph=*/true);
  y.backward();  // allowed: the graph was kept
  EXPECT_NEAR(x.grad().to_vector<double>()[0], 2 * std::exp(1.0), 1e-12);
  try {
    y.backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, BackwardFromANonScalarNeedsAGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = mul(x, x);
  EXPECT_THROW(y.backward(), Error);
  y.backward(vec({1, 10}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{2, 40}));
  EXPECT_THROW(mul(x, x).backward(vec({1, 2, 3})), Error);
}

TEST(Autograd, NoGradAndDetachCutTheGraph) {
  Tensor x = vec({1, 2}).requires_grad_();
  {
    NoGradGuard ng;
    Tensor y = mul(x, x);
    EXPECT_FALSE(y.requires_grad());
    EXPECT_FALSE(y.grad_fn());
  }
  Tensor d = mul(x, x).detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_THROW(d.backward(), Error);
  EXPECT_TRUE(mul(x, x).requires_grad());
}

TEST(Autograd, RequiresGradOnlyOnFloatingLeaves) {
  Tensor i = Tensor::arange(3);
  EXPECT_THROW(i.requires_grad_(), Error);
  Tensor x = vec({1}).requires_grad_();
  Tensor y = mul(x, x);
  EXPECT_THROW(y.requires_grad_(false), Error);
}

TEST(Autograd, LeafHooksCanReplaceTheGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  int calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    return mul(g, 10.0);
  });
  total(mul(x, x)).backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{20, 40}));
}

TEST(Autograd, NonLeafHooksSeeTheIncomingGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = mul(x, 3.0);
  std::vector<double> seen;
  y.register_hook([&](const Tensor& g) {
    seen = g.to_vector<double>();
    return Tensor();  // keep it
  });
  total(mul(y, y)).backward();
  EXPECT_EQ(seen, (std::vector<double>{6, 12}));
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{18, 36}));
}

TEST(Autograd, PostAccumulateHooksRunOncePerBackwardWithTheFinalGrad) {
  Tensor x = vec({1, 2}).requires_grad_();
  std::vector<std::vector<double>> seen;
  x.register_post_accumulate_grad_hook([&](Tensor& g) { seen.push_back(g.to_vector<double>()); });
  total(add(x, x)).backward();
  // x feeds one add node twice; the leaf receives one summed gradient
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], (std::vector<double>{2, 2}));
}

TEST(Autograd, LeafGradientsNeverAliasTheCallersTensors) {
  Tensor x = vec({1, 2, 3, 4}).requires_grad_();
  Tensor y = x.reshape({2, 2});
  Tensor g = Tensor::ones({2, 2}, DType::f64);
  y.backward(g);
  EXPECT_NE(x.grad().storage(), g.storage());
  g.fill_(7.0);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{1, 1, 1, 1}));
}

TEST(Autograd, ExpandedGradientsAreMaterialisedForLeaves) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x.unsqueeze(0).expand({3, 2});
  y.backward(Tensor::ones({3, 2}, DType::f64));
  EXPECT_TRUE(x.grad().is_contiguous());
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{3, 3}));
}

TEST(Autograd, InPlaceChangeOfASavedTensorIsAnError) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor w = vec({3, 4});
  Tensor y = mul(x, w);  // saves w for dx
  w.fill_(0.0);
  try {
    total(y).backward();
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("modified in place"), std::string::npos) << e.what();
  }
}

TEST(Autograd, MultipleRootsBackwardTogether) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor a = mul(x, 2.0), b = mul(x, x);
  Tensor roots[] = {a, b};
  Tensor grads[] = {vec({1, 1}), vec({1, 1})};
  run_backward(roots, grads, false);
  EXPECT_EQ(x.grad().to_vector<double>(), (std::vector<double>{4, 6}));
}

TEST(Autograd, CheckpointGivesTheSameGradientsIncludingParametersInside) {
  Generator gen(3);
  Tensor w0 = Tensor::randn({4}, DType::f64, &gen);
  Tensor x0 = Tensor::randn({3, 4}, DType::f64, &gen);
  auto segment_with = [](const Tensor& w) {
    return [w](const std::vector<Tensor>& in) {
      // A random mask from the default generator: the recompute must draw the same one.
      Tensor mask = Tensor::rand(in[0].shape(), DType::f64);
      return std::vector<Tensor>{mul(tanh(mul(in[0], w)), mask)};
    };
  };
  auto run = [&](bool use_checkpoint) {
    Tensor w = w0.clone().detach().requires_grad_();
    Tensor x = x0.clone().detach().requires_grad_();
    manual_seed(99);
    Tensor h = mul(x, 2.0);
    std::vector<Tensor> out = use_checkpoint ? checkpoint(segment_with(w), {h})
                                             : segment_with(w)({h});
    Tensor draw_after = Tensor::rand({1}, DType::f64);  // the generator moved on identically
    total(mul(out[0], out[0])).backward();
    return std::vector<Tensor>{out[0].detach(), x.grad(), w.grad(), draw_after};
  };
  auto plain = run(false), ckpt = run(true);
  for (size_t i = 0; i < plain.size(); ++i) {
    SCOPED_TRACE(i);
    ASSERT_TRUE(ckpt[i].defined());
    EXPECT_CLOSE(ckpt[i], plain[i], default_tol(DType::f64));
  }
}

TEST(Autograd, CheckpointSegmentRecordsNothingInForward) {
  Tensor x = vec({1, 2}).requires_grad_();
  int calls = 0;
  auto out = checkpoint(
      [&](const std::vector<Tensor>& in) {
        ++calls;
        EXPECT_FALSE(grad_enabled() && calls == 1);  // forward runs under no_grad
        return std::vector<Tensor>{exp(in[0])};
      },
      {x});
  EXPECT_EQ(out[0].grad_fn()->op, OpId::checkpoint);
  total(out[0]).backward();
  EXPECT_EQ(calls, 2);  // once forward, once recomputed in backward
}

TEST(Autograd, OpRegistryNamesEveryNodeKind) {
  EXPECT_GT(all_ops().size(), 40u);
  EXPECT_STREQ(op_name(OpId::add), "add");
  EXPECT_STREQ(op_name(OpId::checkpoint), "checkpoint");
}

}  // namespace
}  // namespace ssm
