// Gradient-check samples for batch_norm, with forward-value and
// argument-error checks.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// x (2, 3, 2, 4) channels-last, gamma (4), beta (4).
TensorList bn_inputs(DType d, Generator& g) {
  return {random_tensor({2, 3, 2, 4}, d, g, -2, 2), random_tensor({4}, d, g, 0.5, 1.5),
          random_tensor({4}, d, g, -1, 1)};
}

KILN_OP_SAMPLE({.op = "batch_norm",
                .variant = "(N, H, W, C) with gamma and beta",
                .inputs = bn_inputs,
                .apply = [](const TensorList& in) { return batch_norm(in[0], in[1], in[2]); }});
KILN_OP_SAMPLE({.op = "batch_norm",
                .variant = "without gamma and beta, large eps",
                .inputs = bn_inputs,
                .apply =
                    [](const TensorList& in) { return batch_norm(in[0], Tensor(), Tensor(), 0.5); },
                .wrt = {0}});
KILN_OP_SAMPLE({.op = "batch_norm",
                .variant = "(N, C) features, gamma only",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({5, 3}, d, g, -2, 2), random_tensor({3}, d, g, 0.5, 1.5)};
                },
                .apply = [](const TensorList& in) { return batch_norm(in[0], in[1], Tensor()); }});

TEST(BatchNorm, ChannelsHaveZeroMeanAndUnitVariance) {
  Generator gen(3);
  Tensor x = uniform({4, 5, 6, 3}, -4, 9, gen);
  const std::vector<double> y = to_vector(batch_norm(x, Tensor(), Tensor(), 0.0));
  const int rows = 4 * 5 * 6;
  for (int c = 0; c < 3; ++c) {
    double m = 0, v = 0;
    for (int r = 0; r < rows; ++r) m += y[r * 3 + c] / rows;
    for (int r = 0; r < rows; ++r) v += (y[r * 3 + c] - m) * (y[r * 3 + c] - m) / rows;
    EXPECT_NEAR(m, 0.0, 1e-5);
    EXPECT_NEAR(v, 1.0, 1e-4);
  }
}

TEST(BatchNorm, AppliesGammaAndBeta) {
  // Channel 0 is (1, 3), channel 1 is (5, 5): xhat = (-1, 1) and (0, 0)
  // (a tiny eps keeps the constant channel finite).
  Tensor x = from_vector(std::vector<double>{1, 5, 3, 5}, {2, 2});
  Tensor gamma = from_vector(std::vector<double>{2, 3}, {2});
  Tensor beta = from_vector(std::vector<double>{10, 20}, {2});
  const std::vector<double> y = to_vector(batch_norm(x, gamma, beta, 1e-12));
  EXPECT_NEAR(y[0], 8.0, 1e-6);
  EXPECT_NEAR(y[1], 20.0, 1e-6);
  EXPECT_NEAR(y[2], 12.0, 1e-6);
  EXPECT_NEAR(y[3], 20.0, 1e-6);
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    FAIL() << "no exception, expected: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(BatchNorm, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        batch_norm(zeros({2, 3, 4}), zeros({3}), Tensor());
      },
      "batch_norm: gamma must have shape (4,) to match x (2, 3, 4), got (3,)");
  expect_error([] { batch_norm(zeros({4}), Tensor(), Tensor()); },
               "batch_norm: needs x (N, ..., C), got (4,)");
  expect_error(
      [] {
        batch_norm(zeros({0, 4}), Tensor(), Tensor());
      },
      "batch_norm: needs at least one element per channel, got x (0, 4)");
}

}  // namespace
}  // namespace kiln::testing
