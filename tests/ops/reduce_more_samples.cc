// Samples and forward tests of max, min, var, logsumexp, norm and argmax.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

void expect_error(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected \"" << expected << "\"";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(expected), std::string::npos)
        << "message \"" << e.what() << "\" lacks \"" << expected << "\"";
  }
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], tol) << "element " << i;
}

TensorList cube(DType d, Generator& g) { return {random_tensor({2, 3, 4}, d, g)}; }

// max, min ------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "max",
                .variant = "all dims",
                .inputs = cube,
                .apply = [](const TensorList& in) { return max(in[0]); }});
KILN_OP_SAMPLE({.op = "max",
                .variant = "dim 1 keepdim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return max(in[0], {1}, true); }});
KILN_OP_SAMPLE({.op = "max",
                .variant = "dims 0 and 2 of a transposed view",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return max(transpose(in[0], 1, 2), {0, 2});
                }});
KILN_OP_SAMPLE({.op = "min",
                .variant = "last dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return min(in[0], {-1}); }});
KILN_OP_SAMPLE({.op = "min",
                .variant = "dims 0 and 1 keepdim",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return min(in[0], {0, 1}, true);
                }});

TEST(ReduceMore, MaxMinValues) {
  Tensor x = from_vector({1, 7, -2, 4, 0, 9}, {2, 3}, DType::kF32);
  EXPECT_EQ(to_vector(max(x, {1})), (std::vector<double>{7, 9}));
  EXPECT_EQ(to_vector(min(x, {0})), (std::vector<double>{1, 0, -2}));
  EXPECT_EQ(max(x).item<double>(), 9);
  EXPECT_EQ(min(x, {1}, true).shape(), (Shape{2, 1}));
  expect_error([] { max(zeros({2, 0}), {1}); }, "max: cannot reduce an empty dim of (2, 0)");
}

TEST(ReduceMore, TiedMaximaShareTheGradientEqually) {
  Tensor x = from_vector({1, 3, 3, 2, 5, 5, 5, 0}, {2, 4}, DType::kF64).set_requires_grad(true);
  max(x, {1}).backward(from_vector({1, 6}, {2}, DType::kF64));
  expect_near(to_vector(x.grad()), {0, 0.5, 0.5, 0, 2, 2, 2, 0}, 1e-12);

  Tensor all = from_vector({4, 1, 4, 4}, {4}, DType::kF32).set_requires_grad(true);
  max(all).backward();
  expect_near(to_vector(all.grad()), {1.0 / 3, 0, 1.0 / 3, 1.0 / 3}, 1e-7);
}

TEST(ReduceMore, TiedMinimaShareTheGradientEqually) {
  Tensor x = from_vector({-1, 2, -1, -1, 0, 0}, {3, 2}, DType::kF32).set_requires_grad(true);
  min(x, {0}).backward(ones({2}));
  expect_near(to_vector(x.grad()), {0.5, 0, 0.5, 1, 0, 0}, 1e-7);
  Tensor y = from_vector({-1, 2, -1, -1, 0, 0}, {3, 2}, DType::kF32).set_requires_grad(true);
  min(y).backward();
  expect_near(to_vector(y.grad()), {1.0 / 3, 0, 1.0 / 3, 1.0 / 3, 0, 0}, 1e-7);
}

// var -----------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "var",
                .variant = "last dim, correction 0",
                .inputs = cube,
                .apply = [](const TensorList& in) { return var(in[0], {-1}); }});
KILN_OP_SAMPLE({.op = "var",
                .variant = "dims 0 and 2 keepdim, correction 1",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return var(in[0], {0, 2}, true, 1);
                }});
KILN_OP_SAMPLE({.op = "var",
                .variant = "all dims, correction 1",
                .inputs = cube,
                .apply = [](const TensorList& in) { return var(in[0], {}, false, 1); }});

TEST(ReduceMore, VarValues) {
  Tensor x = from_vector({1, 2, 3, 4, 2, 2, 2, 2}, {2, 4}, DType::kF64);
  expect_near(to_vector(var(x, {1})), {1.25, 0}, 1e-12);
  expect_near(to_vector(var(x, {1}, false, 1)), {5.0 / 3, 0}, 1e-12);
  // All eight: mean 2.25, squared deviations sum to 5.5.
  EXPECT_NEAR(var(x).item<double>(), 5.5 / 8, 1e-12);
  EXPECT_NEAR(var(x, {}, false, 1).item<double>(), 5.5 / 7, 1e-12);
  expect_error([] { var(zeros({3, 1}), {1}, false, 1); }, "var: 1 elements with correction 1");
}

// logsumexp -----------------------------------------------------------------

KILN_OP_SAMPLE({.op = "logsumexp",
                .variant = "last dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return logsumexp(in[0], {-1}); }});
KILN_OP_SAMPLE({.op = "logsumexp",
                .variant = "dims 0 and 2 keepdim",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return logsumexp(in[0], {0, 2}, true);
                }});
// exp(100) overflows f32: the f32 run only matches f64 if the max is shifted out.
KILN_OP_SAMPLE({.op = "logsumexp",
                .variant = "values near 100 (f32 overflow without the shift)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3, 4}, d, g, 99.0, 101.0)};
                },
                .apply = [](const TensorList& in) { return logsumexp(in[0], {1}); }});

TEST(ReduceMore, LogsumexpIsStableForLargeValues) {
  for (DType d : {DType::kF32, DType::kF64}) {
    const double inf = std::numeric_limits<double>::infinity();
    Tensor x =
        from_vector({1000, 1000.5, 999, 0, 1, 2, -1000, -1001, -999, -inf, -inf, -inf}, {4, 3}, d)
            .set_requires_grad(true);
    Tensor y = logsumexp(x, {1});
    const std::vector<double> got = to_vector(y);
    auto lse = [](double a, double b, double c) {
      const double m = std::max({a, b, c});
      return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
    };
    const double tol = d == DType::kF32 ? 1e-3 : 1e-10;
    EXPECT_NEAR(got[0], lse(1000, 1000.5, 999), tol) << dtype_name(d);
    EXPECT_NEAR(got[1], lse(0, 1, 2), tol) << dtype_name(d);
    EXPECT_NEAR(got[2], lse(-1000, -1001, -999), tol) << dtype_name(d);
    EXPECT_EQ(got[3], -inf) << dtype_name(d);
    // The gradient of the finite rows is their softmax.
    sum(narrow(y, 0, 0, 3)).backward();
    const std::vector<double> g = to_vector(x.grad());
    const double z = std::exp(-0.5) + 1 + std::exp(-1.5);
    expect_near({g[0], g[1], g[2]}, {std::exp(-0.5) / z, 1 / z, std::exp(-1.5) / z},
                d == DType::kF32 ? 1e-6 : 1e-12);
    for (int i = 0; i < 9; ++i) EXPECT_TRUE(std::isfinite(g[i])) << i;
  }
}

// norm ----------------------------------------------------------------------

KILN_OP_SAMPLE({.op = "norm",
                .variant = "all dims",
                .inputs = cube,
                .apply = [](const TensorList& in) { return norm(in[0]); }});
KILN_OP_SAMPLE({.op = "norm",
                .variant = "dim 1 with a zero row (subgradient 0)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  Tensor x = random_tensor({3, 4}, d, g);
                  fill_(narrow(x, 0, 1, 1), 0.0);
                  return {x};
                },
                .apply = [](const TensorList& in) { return norm(in[0], {1}); }});
KILN_OP_SAMPLE({.op = "norm",
                .variant = "dims 0 and 2 keepdim",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return norm(in[0], {0, 2}, true);
                }});

TEST(ReduceMore, NormValuesAndZeroRowGradient) {
  Tensor x = from_vector({3, 4, 0, 0, 1, 0}, {3, 2}, DType::kF32).set_requires_grad(true);
  Tensor n = norm(x, {1});
  EXPECT_EQ(to_vector(n), (std::vector<double>{5, 0, 1}));
  sum(n).backward();
  expect_near(to_vector(x.grad()), {0.6, 0.8, 0, 0, 1, 0}, 1e-7);
  EXPECT_NEAR(norm(from_vector({1, 2, 2}, {3}, DType::kF64)).item<double>(), 3.0, 1e-12);
}

// argmax --------------------------------------------------------------------

KILN_FORWARD_SAMPLE(argmax, IndicesAlongEachDim) {
  Tensor x = from_vector({1, 9, 3, 7, 2, 8}, {2, 3}, DType::kF32);
  Tensor a1 = argmax(x, 1);
  EXPECT_EQ(a1.dtype(), DType::kI64);
  EXPECT_EQ(to_vector(a1), (std::vector<double>{1, 2}));
  EXPECT_EQ(to_vector(argmax(x, 0)), (std::vector<double>{1, 0, 1}));
  EXPECT_EQ(argmax(x, -1, true).shape(), (Shape{2, 1}));
  // Ties pick the first index; a transposed (non-contiguous) input works.
  Tensor ties = from_vector({2, 5, 5, 5, 1, 5}, {2, 3}, DType::kF64);
  EXPECT_EQ(to_vector(argmax(ties, 1)), (std::vector<double>{1, 0}));
  EXPECT_EQ(to_vector(argmax(transpose(x, 0, 1), 0)), (std::vector<double>{1, 2}));
  EXPECT_EQ(argmax(from_vector({4, 6, 5}, {3}, DType::kF32), 0).item<double>(), 1);
}

KILN_FORWARD_SAMPLE(argmax, Errors) {
  expect_error([] { argmax(zeros({2, 0}), 1); }, "argmax: empty dim 1 of (2, 0)");
  expect_error([] { argmax(zeros({2}), 1); }, "argmax: dim 1 is out of range for rank 1");
}

}  // namespace
}  // namespace kiln::testing
