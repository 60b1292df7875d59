// Engine tests: diamonds, broadcasting, accumulation, no_grad, detach,
// retain_graph, and a 100,000-op chain.
#include <gtest/gtest.h>

#include "kiln/kiln.h"

namespace kiln {
namespace {

Tensor leaf(std::vector<float> values, IntList shape) {
  return from_vector(values, shape).set_requires_grad(true);
}

TEST(Autograd, DiamondSumsBothPaths) {
  Tensor x = leaf({2.0f}, {1});
  Tensor a = mul_scalar(x, 3.0);
  Tensor b = square(x);
  Tensor y = add(a, b);  // dy/dx = 3 + 2x = 7
  y.backward(ones({1}));
  EXPECT_FLOAT_EQ(x.grad().item<float>(), 7.0f);
}

TEST(Autograd, SameInputTwiceInOneOp) {
  Tensor x = leaf({3.0f}, {1});
  mul(x, x).backward(ones({1}));  // 2x
  EXPECT_FLOAT_EQ(x.grad().item<float>(), 6.0f);
}

TEST(Autograd, BroadcastGradientIsReducedToTheInputShape) {
  Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor b = leaf({10, 20, 30}, {3});
  sum(mul(a, b)).backward();
  EXPECT_EQ(b.grad().shape(), (Shape{3}));
  EXPECT_EQ(to_vector(b.grad()), (std::vector<double>{5, 7, 9}));
  EXPECT_EQ(to_vector(a.grad()), (std::vector<double>{10, 20, 30, 10, 20, 30}));
}

TEST(Autograd, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = leaf({1.0f, 2.0f}, {2});
  sum(mul_scalar(x, 2.0)).backward();
  sum(mul_scalar(x, 3.0)).backward();
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>{5, 5}));
  x.zero_grad();
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, LeafGradDoesNotAliasAnotherLeaf) {
  // add passes the same gradient to both inputs; accumulating into one leaf
  // must not change the other.
  Tensor a = leaf({1.0f}, {1});
  Tensor b = leaf({1.0f}, {1});
  add(a, b).backward(ones({1}));
  sum(mul_scalar(a, 5.0)).backward();
  EXPECT_FLOAT_EQ(a.grad().item<float>(), 6.0f);
  EXPECT_FLOAT_EQ(b.grad().item<float>(), 1.0f);
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor x = leaf({1.0f}, {1});
  NoGradGuard guard;
  Tensor y = exp(x);
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
}

TEST(Autograd, DetachCutsTheGraph) {
  Tensor x = leaf({2.0f}, {1});
  Tensor y = mul(x.detach(), x);  // d/dx = detached x = 2
  y.backward(ones({1}));
  EXPECT_FLOAT_EQ(x.grad().item<float>(), 2.0f);
  EXPECT_FALSE(x.detach().requires_grad());
  EXPECT_TRUE(x.detach().shares_storage(x));
}

TEST(Autograd, SecondBackwardNeedsRetainGraph) {
  Tensor x = leaf({2.0f}, {1});
  Tensor y = exp(x);
  y.backward(ones({1}), /*retain_graph=*/true);
  y.backward(ones({1}));
  EXPECT_NEAR(x.grad().item<float>(), 2 * std::exp(2.0), 1e-4);
  try {
    y.backward(ones({1}));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("retain_graph"), std::string::npos) << e.what();
  }
}

TEST(Autograd, NonScalarBackwardNeedsAGradient) {
  Tensor x = leaf({1.0f, 2.0f}, {2});
  EXPECT_THROW(exp(x).backward(), Error);
}

TEST(Autograd, DeepChainNeedsNoRecursion) {
  Tensor x = leaf({1.0f}, {1});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = add_scalar(y, 1e-5);
  y.backward(ones({1}));
  EXPECT_FLOAT_EQ(x.grad().item<float>(), 1.0f);
  // Destroying the graph must not recurse either (ASan would catch a stack
  // overflow here).
  y = Tensor();
}

TEST(Autograd, DeepChainDestroyedWithoutBackward) {
  Tensor x = leaf({1.0f}, {1});
  Tensor y = x;
  for (int i = 0; i < 100000; ++i) y = mul_scalar(y, 1.0);
  y = Tensor();
  SUCCEED();
}

TEST(Autograd, GradReturnsWithoutAccumulating) {
  Tensor x = leaf({3.0f}, {1});
  Tensor y = square(x);
  TensorList g = autograd::grad({sum(y)}, {}, {x});
  EXPECT_FLOAT_EQ(g[0].item<float>(), 6.0f);
  EXPECT_FALSE(x.grad().defined());
}

TEST(Autograd, GradWithRespectToAnIntermediate) {
  Tensor x = leaf({3.0f}, {1});
  Tensor h = mul_scalar(x, 2.0);
  Tensor y = square(h);
  TensorList g = autograd::grad({sum(y)}, {}, {h, x});
  EXPECT_FLOAT_EQ(g[0].item<float>(), 12.0f);  // 2h
  EXPECT_FLOAT_EQ(g[1].item<float>(), 24.0f);  // 2h * 2
}

TEST(Autograd, DeterministicOrderGivesIdenticalBits) {
  auto run = [] {
    Generator gen(3);
    Tensor w = normal({64}, 0, 1, gen).set_requires_grad(true);
    Tensor y = w;
    for (int i = 0; i < 10; ++i) y = add(tanh(y), mul(y, w));
    sum(y).backward();
    return to_vector(w.grad());
  };
  EXPECT_EQ(run(), run());
}

TEST(Autograd, SetRequiresGradRejectsIntegers) {
  Tensor i = zeros({2}, DType::kI64);
  EXPECT_THROW(i.set_requires_grad(true), Error);
}

}  // namespace
}  // namespace kiln
