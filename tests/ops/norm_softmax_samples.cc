// Gradient-check samples for layer_norm, softmax and log_softmax, with
// forward-value and argument-error checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// x (2, 3, 5), gamma (5), beta (5).
TensorList norm_inputs(DType d, Generator& g) {
  return {random_tensor({2, 3, 5}, d, g, -2, 2), random_tensor({5}, d, g, 0.5, 1.5),
          random_tensor({5}, d, g, -1, 1)};
}

KILN_OP_SAMPLE({.op = "layer_norm",
                .variant = "(2,3,5) with gamma and beta",
                .inputs = norm_inputs,
                .apply = [](const TensorList& in) { return layer_norm(in[0], in[1], in[2]); }});
KILN_OP_SAMPLE({.op = "layer_norm",
                .variant = "without gamma and beta",
                .inputs = norm_inputs,
                .apply = [](const TensorList& in) { return layer_norm(in[0], Tensor(), Tensor()); },
                .wrt = {0}});
KILN_OP_SAMPLE({.op = "layer_norm",
                .variant = "gamma only, large eps",
                .inputs = norm_inputs,
                .apply =
                    [](const TensorList& in) { return layer_norm(in[0], in[1], Tensor(), 0.5); },
                .wrt = {0, 1}});
KILN_OP_SAMPLE({.op = "layer_norm",
                .variant = "beta only, (4,1) rows of one element",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({4, 1}, d, g), random_tensor({1}, d, g)};
                },
                .apply = [](const TensorList& in) { return layer_norm(in[0], Tensor(), in[1]); }});

TensorList cube(DType d, Generator& g) { return {random_tensor({2, 3, 4}, d, g, -3, 3)}; }

KILN_OP_SAMPLE({.op = "softmax",
                .variant = "last dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return softmax(in[0]); }});
KILN_OP_SAMPLE({.op = "softmax",
                .variant = "middle dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return softmax(in[0], 1); }});
KILN_OP_SAMPLE({.op = "softmax",
                .variant = "first dim of a transposed view",
                .inputs = cube,
                .apply = [](const TensorList& in) { return softmax(transpose(in[0], 0, 2), 0); }});
KILN_OP_SAMPLE({.op = "log_softmax",
                .variant = "last dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return log_softmax(in[0], -1); }});
KILN_OP_SAMPLE({.op = "log_softmax",
                .variant = "middle dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return log_softmax(in[0], -2); }});

// Checks that fn throws kiln::Error whose message contains `part`.
template <class F>
void expect_error(F fn, const std::string& part) {
  try {
    fn();
    ADD_FAILURE() << "no exception, expected one containing: " << part;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(LayerNorm, RowsHaveZeroMeanAndUnitVariance) {
  Generator gen(3);
  Tensor x = uniform({6, 33}, -4, 9, gen);
  std::vector<double> y = to_vector(layer_norm(x, Tensor(), Tensor(), 0.0));
  for (int r = 0; r < 6; ++r) {
    double m = 0, v = 0;
    for (int j = 0; j < 33; ++j) m += y[r * 33 + j] / 33;
    for (int j = 0; j < 33; ++j) v += (y[r * 33 + j] - m) * (y[r * 33 + j] - m) / 33;
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v, 1.0, 1e-4);
  }
}

TEST(LayerNorm, AppliesGammaAndBeta) {
  Tensor x = from_vector(std::vector<double>{1, 3}, {1, 2});
  Tensor gamma = from_vector(std::vector<double>{2, 3}, {2});
  Tensor beta = from_vector(std::vector<double>{10, 20}, {2});
  // xhat = (-1, 1) with eps 0.
  std::vector<double> y = to_vector(layer_norm(x, gamma, beta, 0.0));
  EXPECT_NEAR(y[0], 8.0, 1e-6);
  EXPECT_NEAR(y[1], 23.0, 1e-6);
}

TEST(LayerNorm, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        layer_norm(zeros({2, 4}), zeros({3}), Tensor());
      },
      "layer_norm: gamma must have shape (4,) to match x (2, 4), got (3,)");
  expect_error(
      [] {
        layer_norm(zeros({2, 4}), Tensor(), zeros({4, 1}));
      },
      "layer_norm: beta must have shape (4,)");
  expect_error(
      [] {
        layer_norm(zeros({2, 4}), zeros({4}, DType::kF64), Tensor());
      },
      "layer_norm: gamma has dtype f64 but x has f32");
  expect_error(
      [] {
        layer_norm(zeros({2, 4}, DType::kI64), Tensor(), Tensor());
      },
      "layer_norm: needs an f32 or f64 tensor");
  expect_error([] { layer_norm(zeros({}), Tensor(), Tensor()); },
               "layer_norm: x must have at least one dim");
}

TEST(LayerNorm, EmptyBatchGivesZeroParamGradients) {
  Tensor x = zeros({0, 3}).set_requires_grad(true);
  Tensor gamma = ones({3}).set_requires_grad(true);
  Tensor beta = zeros({3}).set_requires_grad(true);
  Tensor y = layer_norm(x, gamma, beta);
  EXPECT_EQ(y.shape(), (Shape{0, 3}));
  sum(y).backward();
  EXPECT_EQ(to_vector(gamma.grad()), (std::vector<double>{0, 0, 0}));
  EXPECT_EQ(to_vector(beta.grad()), (std::vector<double>{0, 0, 0}));
}

TEST(Softmax, RowsSumToOneAlongAnyDim) {
  Generator gen(5);
  Tensor x = uniform({3, 4, 5}, -5, 5, gen);
  for (int64_t dim : {0, 1, 2}) {
    Tensor s = sum(softmax(x, dim), {dim});
    for (double v : to_vector(s)) EXPECT_NEAR(v, 1.0, 1e-6) << "dim " << dim;
    // log_softmax agrees with log(softmax).
    std::vector<double> a = to_vector(log_softmax(x, dim));
    std::vector<double> b = to_vector(log(softmax(x, dim)));
    for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5);
  }
}

TEST(Softmax, ExtremeAndMaskedLogits) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = from_vector(std::vector<double>{1e4, -1e4, -inf, 0, -inf, 1e4}, {2, 3});
  std::vector<double> p = to_vector(softmax(x));
  EXPECT_EQ(p, (std::vector<double>{1, 0, 0, 0, 0, 1}));
  std::vector<double> lp = to_vector(log_softmax(x));
  EXPECT_EQ(lp[0], 0.0);
  EXPECT_EQ(lp[1], -2e4);
  EXPECT_EQ(lp[2], -inf);
  EXPECT_EQ(lp[3], -1e4);
}

TEST(Softmax, MaskedEntriesGetNoGradient) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = from_vector(std::vector<double>{0.5, -inf, 1.5}, {1, 3}).set_requires_grad(true);
  Tensor w = from_vector(std::vector<double>{1, 2, 3}, {1, 3});
  sum(mul(softmax(x), w)).backward();
  std::vector<double> g = to_vector(x.grad());
  EXPECT_EQ(g[1], 0.0);
  EXPECT_NEAR(g[0] + g[2], 0.0, 1e-6);
}

TEST(Softmax, ScalarAndEmptyInputs) {
  EXPECT_EQ(to_vector(softmax(full({}, 3.0))), (std::vector<double>{1.0}));
  EXPECT_EQ(softmax(zeros({0, 4})).shape(), (Shape{0, 4}));
  EXPECT_EQ(log_softmax(zeros({4, 0}), 0).shape(), (Shape{4, 0}));
}

TEST(Softmax, BadArgumentsThrow) {
  expect_error(
      [] {
        softmax(zeros({2, 3}), 2);
      },
      "softmax: dim 2 is out of range for x of shape (2, 3)");
  expect_error([] { log_softmax(zeros({2, 3}), -3); }, "log_softmax: dim -3 is out of range");
  expect_error(
      [] {
        log_softmax(zeros({2, 3}, DType::kI32));
      },
      "log_softmax: needs an f32 or f64 tensor, got i32 of shape (2, 3)");
}

}  // namespace
}  // namespace kiln::testing
