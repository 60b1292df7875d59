// More engine tests: gradients through chains of views, concat of slices,
// broadcasting with leading dims, non-contiguous inputs, 0-size tensors,
// and error messages naming the op and the shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "kiln/kiln.h"

namespace kiln {
namespace {

Tensor leaf(const std::vector<double>& values, IntList shape, DType dtype = DType::kF64) {
  return from_vector(values, shape, dtype).set_requires_grad(true);
}

Tensor leaf_arange(IntList shape, DType dtype = DType::kF64) {
  return reshape(arange(shape_numel(shape), dtype), shape).detach().set_requires_grad(true);
}

void expect_error(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected \"" << expected << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << expected << "\"";
  }
}

TEST(AutogradMore, GradientThroughAChainOfViews) {
  Tensor x = leaf_arange({2, 3, 4});
  // (2,3,4) -> (4,2,3) -> rows 1 and 3 -> last two columns -> (1,2,2,2): views;
  // the final flatten cannot view those strides and copies.
  Tensor u = unsqueeze(narrow(slice(permute(x, {2, 0, 1}), 0, 1, 4, 2), 2, 1, 2), 0);
  EXPECT_TRUE(u.shares_storage(x));
  Tensor v = flatten(u);
  EXPECT_FALSE(v.shares_storage(x));
  Tensor w = arange(8, DType::kF64);
  sum(mul(v, w)).backward();
  // v[m] = x[j][k+1][2i+1] with m = 4i + 2j + k, so that x element gets w[m].
  std::vector<double> want(24, 0.0);
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 2; ++j) {
      for (int k = 0; k < 2; ++k) want[j * 12 + (k + 1) * 4 + 2 * i + 1] = 4 * i + 2 * j + k;
    }
  }
  EXPECT_EQ(to_vector(x.grad()), want);
}

TEST(AutogradMore, ConcatOfSlicesRoutesGradientsBack) {
  // A roll by 2 written as concat of two slices, then sliced again.
  Tensor x = leaf({1, 2, 3, 4, 5}, {5});
  Tensor rolled = concat({slice(x, 0, 3, 5), slice(x, 0, 0, 3)}, 0);  // 4 5 1 2 3
  EXPECT_EQ(to_vector(rolled), (std::vector<double>{4, 5, 1, 2, 3}));
  Tensor tail = slice(rolled, 0, 1, 5, 2);  // rolled[1], rolled[3] = x[4], x[1]
  sum(mul(tail, from_vector({10, 100}, {2}, DType::kF64))).backward();
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>{0, 100, 0, 0, 10}));
}

TEST(AutogradMore, OverlappingSlicesInOneConcatAccumulate) {
  Tensor x = leaf({1, 2, 3, 4}, {2, 2});
  // Rows [0, 1] and row [1] again, along dim 0, and a column along dim 1.
  Tensor y = concat({x, narrow(x, 0, 1, 1)}, 0);  // (3, 2)
  Tensor z = concat({y, narrow(y, 1, 0, 1)}, 1);  // (3, 3)
  sum(z).backward();
  // x[0][0]: y[0][0] twice in z; x[1][0]: y[1][0], y[2][0], each twice; x[.][1]: once per y row.
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>{2, 1, 4, 2}));
}

TEST(AutogradMore, BroadcastingWithLeadingDims) {
  Tensor a = leaf_arange({2, 3, 4});
  Tensor b = leaf({1, 2, 3, 4}, {1, 1, 4});  // size-1 leading dims are kept
  Tensor c = leaf({1, 2, 3}, {3, 1});        // fewer dims than a
  Tensor s = leaf({2}, {});                  // 0-d
  sum(mul(add(mul(a, b), c), s)).backward();
  ASSERT_EQ(b.grad().shape(), (Shape{1, 1, 4}));
  ASSERT_EQ(c.grad().shape(), (Shape{3, 1}));
  ASSERT_EQ(s.grad().shape(), (Shape{}));
  // db[k] = s * sum_{i,j} a[i][j][k]; a = 12i + 4j + k.
  std::vector<double> db;
  for (int k = 0; k < 4; ++k) {
    double total = 0;
    for (int i = 0; i < 2; ++i) {
      for (int j = 0; j < 3; ++j) total += 12 * i + 4 * j + k;
    }
    db.push_back(2 * total);
  }
  EXPECT_EQ(to_vector(b.grad()), db);
  EXPECT_EQ(to_vector(c.grad()), (std::vector<double>{16, 16, 16}));  // s * 2 * 4
  // ds = sum(a * b + c) = sum(a * b) + 8 * sum(c).
  double ds = 0;
  for (int k = 0; k < 4; ++k) ds += db[k] / 2 * (k + 1);
  EXPECT_EQ(s.grad().item<double>(), ds + 8 * 6);
  // a's gradient is b * s broadcast back over (2, 3).
  std::vector<double> da = to_vector(a.grad());
  for (int m = 0; m < 24; ++m) EXPECT_EQ(da[m], 2.0 * (m % 4 + 1)) << m;
}

// maximum / minimum send the gradient to the winning operand and split it
// on ties (finite differences cannot check a tie: the function has a kink).
TEST(AutogradMore, MaximumAndMinimumSplitTiedGradients) {
  for (const bool take_max : {true, false}) {
    Tensor a = leaf({1, 5, 3}, {3});
    Tensor b = leaf({2, 5, 0}, {3});
    Tensor y = take_max ? maximum(a, b) : minimum(a, b);
    sum(mul(y, from_vector({10, 20, 30}, {3}, DType::kF64))).backward();
    if (take_max) {
      EXPECT_EQ(to_vector(a.grad()), (std::vector<double>{0, 10, 30}));
      EXPECT_EQ(to_vector(b.grad()), (std::vector<double>{10, 10, 0}));
    } else {
      EXPECT_EQ(to_vector(a.grad()), (std::vector<double>{10, 10, 0}));
      EXPECT_EQ(to_vector(b.grad()), (std::vector<double>{0, 10, 30}));
    }
  }
  // Broadcast: b's gradient sums over the rows it won.
  Tensor a = leaf({0, 4, 2, 2}, {2, 2});
  Tensor b = leaf({1, 2}, {2});
  sum(maximum(a, b)).backward();
  EXPECT_EQ(to_vector(a.grad()), (std::vector<double>{0, 1, 1, 0.5}));
  EXPECT_EQ(to_vector(b.grad()), (std::vector<double>{1, 0.5}));
}

TEST(AutogradMore, OpsOnNonContiguousInputs) {
  Tensor x = leaf_arange({3, 4});
  Tensor xt = transpose(x, 0, 1);  // (4, 3), strides (1, 4)
  ASSERT_FALSE(xt.is_contiguous());
  Tensor cols = slice(xt, 1, 0, 3, 2);  // (4, 2): x rows 0 and 2, transposed
  ASSERT_FALSE(cols.is_contiguous());
  Tensor y = mul(exp(mul_scalar(cols, 0.1)), cols);  // unary and binary
  Tensor col_sums = sum(cols, {0});                  // reduce, (2)
  Tensor loss = add(sum(mul(y, from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {4, 2}, DType::kF64))),
                    sum(mul(col_sums, from_vector({100, 1000}, {2}, DType::kF64))));
  loss.backward();
  // d/dv of v * exp(0.1 v) = exp(0.1 v) (1 + 0.1 v); cols[i][j] = x[2j][i].
  std::vector<double> want(12, 0.0);
  for (int i = 0; i < 4; ++i) {
    for (int j = 0; j < 2; ++j) {
      const double v = 4.0 * (2 * j) + i;
      want[2 * j * 4 + i] =
          (2 * i + j + 1) * std::exp(0.1 * v) * (1 + 0.1 * v) + (j == 0 ? 100 : 1000);
    }
  }
  const std::vector<double> got = to_vector(x.grad());
  for (int m = 0; m < 12; ++m) EXPECT_NEAR(got[m], want[m], 1e-9 * (1 + std::abs(want[m]))) << m;
}

TEST(AutogradMore, ZeroSizeTensorsForwardAndBackward) {
  Tensor x = leaf({}, {0, 3});
  Tensor w = leaf({1, 2, 3}, {3});
  Tensor y = mul(exp(x), w);                         // (0, 3)
  Tensor p = pad(y, {{1, 0}, {0, 0}}, 1.0);          // (1, 3) of ones
  Tensor c = concat({y, p, narrow(p, 0, 0, 0)}, 0);  // (1, 3)
  Tensor r = reshape(permute(c, {1, 0}), {3});
  Tensor loss = add(sum(r), sum(y));
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
  EXPECT_EQ(to_vector(sum(y, {0})), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(loss.item<double>(), 3.0);
  loss.backward();
  ASSERT_TRUE(x.grad().defined());
  EXPECT_EQ(x.grad().shape(), (Shape{0, 3}));
  // w only meets the empty x: its gradient is zero, not missing.
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(to_vector(w.grad()), (std::vector<double>{0, 0, 0}));
  // 0-size through index_select, gather and stack.
  Tensor e = leaf({}, {0});
  Tensor g = stack(
      {index_select(e, 0, zeros({0}, DType::kI64)), gather(e, 0, zeros({0}, DType::kI64))}, 0);
  EXPECT_EQ(g.shape(), (Shape{2, 0}));
  sum(g).backward();
  EXPECT_EQ(e.grad().shape(), (Shape{0}));
}

TEST(AutogradMore, ErrorsNameTheOpAndTheShapes) {
  expect_error(
      [] {
        add(zeros({2, 3}), zeros({4}));
      },
      "add: shapes (2, 3) and (4,) cannot be broadcast together");
  expect_error([] { mul(zeros({2}), zeros({2}, DType::kF64)); },
               "mul: dtypes differ: f32 (2,) and f64 (2,)");
  expect_error(
      [] {
        permute(zeros({2, 3, 4}), {0, 1});
      },
      "permute: 2 dims given for a tensor of shape (2, 3, 4)");
  expect_error([] { permute(zeros({2, 3}), {1, 1}); }, "permute: dim 1 repeated in (1, 1)");
  expect_error([] { expand(zeros({2, 3}), {3}); }, "expand: cannot expand (2, 3) to (3,)");
  expect_error([] { expand(zeros({2, 3}), {4, 3}); }, "expand: cannot broadcast (2, 3) to (4, 3)");
  expect_error([] { sum(zeros({2}), {1}); }, "sum: dim 1 is out of range for rank 1");
  expect_error([] { sum(zeros({2, 2}), {0, -2}); }, "sum: a dim is repeated in (0, -2)");
  Tensor x = leaf({1, 2}, {2});
  expect_error([&] { exp(x).backward(ones({3}, DType::kF64)); },
               "backward: gradient of shape (3,) for an output of shape (2,)");
  expect_error([&] { exp(x).backward(); },
               "backward: an output of shape (2,) needs an explicit gradient");
  expect_error([] { zeros({2}).backward(); },
               "backward: the tensor does not require grad and has no grad_fn");
  expect_error([&] { autograd::grad({sum(x)}, {}, {zeros({2})}); },
               "grad: input 0 does not require grad");
}

TEST(AutogradMore, GradOfTheSameInputTwice) {
  Tensor x = leaf({3}, {1});
  TensorList g = autograd::grad({sum(square(x))}, {}, {x, x});
  ASSERT_EQ(g.size(), 2u);
  ASSERT_TRUE(g[0].defined());
  ASSERT_TRUE(g[1].defined());
  EXPECT_EQ(g[0].item<double>(), 6);
  EXPECT_EQ(g[1].item<double>(), 6);
}

TEST(AutogradMore, GradOfTwoOutputsSharingAGraph) {
  Tensor x = leaf({2}, {1});
  Tensor h = square(x);
  TensorList g = autograd::grad({sum(h), sum(mul_scalar(h, 3.0))}, {}, {x});
  EXPECT_EQ(g[0].item<double>(), 16);  // (1 + 3) * 2x
}

TEST(AutogradMore, GradRunsOnlyTheNodesOnAPathToItsInputs) {
  // exp's saved output is freed by the first backward; the gradient with
  // respect to h, or to x through mul only, must not run exp's backward again.
  Tensor x = leaf({1, 2}, {2});
  Tensor w = leaf({0.5, -1}, {2});
  Tensor h = exp(w);
  sum(h).backward();
  TensorList gh = autograd::grad({sum(square(h))}, {}, {h});
  ASSERT_TRUE(gh[0].defined());
  EXPECT_EQ(to_vector(gh[0]), to_vector(mul_scalar(h.detach(), 2.0)));
  TensorList gx = autograd::grad({sum(mul(x, h))}, {}, {x});
  EXPECT_EQ(to_vector(gx[0]), to_vector(h.detach()));
  // Leaves keep the gradient of the first backward only.
  EXPECT_EQ(to_vector(w.grad()), to_vector(h.detach()));
  EXPECT_FALSE(x.grad().defined());
}

TEST(AutogradMore, GradWithoutInputsLeavesLeavesAlone) {
  Tensor x = leaf({1, 2}, {2});
  TensorList g = autograd::grad({sum(square(x))}, {}, {});
  EXPECT_TRUE(g.empty());
  EXPECT_FALSE(x.grad().defined());
}

}  // namespace
}  // namespace kiln
