// Gradient-check samples for cross_entropy (class-index and soft targets,
// ignore_index, label smoothing, each reduction), with forward-value and
// argument-error checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// logits (5, 4); labels (5) with row 2 ignored (-100) when `ignore`.
TensorList hard_inputs(DType d, Generator& g, DType label_dtype, bool ignore) {
  Tensor labels = from_vector(std::vector<int64_t>{3, 0, ignore ? -100 : 1, 2, 3}, {5});
  return {random_tensor({5, 4}, d, g, -3, 3), to_dtype(labels, label_dtype)};
}

// logits (3, 5) and soft targets (3, 5) whose rows sum to 1.
TensorList soft_inputs(DType d, Generator& g) {
  Tensor logits = random_tensor({3, 5}, d, g, -3, 3);
  Tensor t = random_tensor({3, 5}, DType::kF64, g, 0.1, 1.0);
  return {logits, to_dtype(div(t, sum(t, {1}, true)), d)};
}

CrossEntropyOptions opts(Reduction reduction, double smoothing = 0.0) {
  return {.label_smoothing = smoothing, .reduction = reduction};
}

KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "i64 targets, mean",
                .inputs = [](DType d,
                             Generator& g) { return hard_inputs(d, g, DType::kI64, false); },
                .apply = [](const TensorList& in) { return cross_entropy(in[0], in[1]); }});
KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "i32 targets with ignore_index, mean",
                .inputs = [](DType d,
                             Generator& g) { return hard_inputs(d, g, DType::kI32, true); },
                .apply = [](const TensorList& in) { return cross_entropy(in[0], in[1]); }});
KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "ignore_index and label smoothing 0.2, sum",
                .inputs = [](DType d,
                             Generator& g) { return hard_inputs(d, g, DType::kI64, true); },
                .apply =
                    [](const TensorList& in) {
                      return cross_entropy(in[0], in[1], opts(Reduction::kSum, 0.2));
                    }});
KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "ignore_index 3 and label smoothing 0.1, none",
                .inputs = [](DType d,
                             Generator& g) { return hard_inputs(d, g, DType::kI64, false); },
                .apply =
                    [](const TensorList& in) {
                      CrossEntropyOptions o = opts(Reduction::kNone, 0.1);
                      o.ignore_index = 3;
                      return cross_entropy(in[0], in[1], o);
                    }});
KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "soft targets, mean (gradient of logits and targets)",
                .inputs = soft_inputs,
                .apply = [](const TensorList& in) { return cross_entropy(in[0], in[1]); }});
KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "soft targets with label smoothing 0.3, none",
                .inputs = soft_inputs,
                .apply = [](const TensorList& in) {
                  return cross_entropy(in[0], in[1], opts(Reduction::kNone, 0.3));
                }});
KILN_OP_SAMPLE({.op = "cross_entropy",
                .variant = "soft targets, sum",
                .inputs = soft_inputs,
                .apply = [](const TensorList& in) {
                  return cross_entropy(in[0], in[1], opts(Reduction::kSum));
                }});

// -log_softmax(x)[label] with smoothing, written in other ops.
double expected_loss(const Tensor& logits, const std::vector<int64_t>& labels, double s,
                     int64_t ignore) {
  std::vector<double> lp = to_vector(log_softmax(to_dtype(logits, DType::kF64)));
  const int64_t c = logits.size(1);
  double total = 0;
  int count = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    if (labels[r] == ignore) continue;
    ++count;
    double row = 0;
    for (int64_t k = 0; k < c; ++k) {
      const double q = (1 - s) * (k == labels[r] ? 1.0 : 0.0) + s / static_cast<double>(c);
      row -= q * lp[r * c + k];
    }
    total += row;
  }
  return total / count;
}

TEST(CrossEntropy, MatchesLogSoftmaxFormula) {
  Generator gen(21);
  Tensor logits = uniform({6, 7}, -4, 4, gen);
  const std::vector<int64_t> labels{0, 6, -1, 3, 3, 2};
  Tensor t = from_vector(labels, {6});
  for (double s : {0.0, 0.25}) {
    CrossEntropyOptions o{.label_smoothing = s, .ignore_index = -1};
    EXPECT_NEAR(cross_entropy(logits, t, o).item<double>(), expected_loss(logits, labels, s, -1),
                1e-5);
  }
}

TEST(CrossEntropy, OneHotSoftTargetsEqualClassIndices) {
  Generator gen(22);
  Tensor logits = uniform({4, 3}, -2, 2, gen);
  Tensor labels = from_vector(std::vector<int64_t>{2, 0, 1, 1}, {4});
  Tensor onehot = from_vector(std::vector<double>{0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 1, 0}, {4, 3});
  const CrossEntropyOptions o{.label_smoothing = 0.1, .reduction = Reduction::kNone};
  std::vector<double> a = to_vector(cross_entropy(logits, labels, o));
  std::vector<double> b = to_vector(cross_entropy(logits, onehot, o));
  ASSERT_EQ(a.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-6);
}

TEST(CrossEntropy, MeanDividesByNonIgnoredRows) {
  Tensor logits = zeros({4, 2}).set_requires_grad(true);
  Tensor labels = from_vector(std::vector<int64_t>{0, -100, -100, 1}, {4});
  Tensor loss = cross_entropy(logits, labels);
  EXPECT_NEAR(loss.item<double>(), std::log(2.0), 1e-6);
  loss.backward();
  // Row 0: (0.5 - 1, 0.5) / 2; ignored rows get nothing.
  std::vector<double> g = to_vector(logits.grad());
  EXPECT_NEAR(g[0], -0.25, 1e-6);
  EXPECT_NEAR(g[1], 0.25, 1e-6);
  EXPECT_EQ(g[2], 0.0);
  EXPECT_EQ(g[5], 0.0);
  // Every row ignored: the mean is 0 / 0.
  EXPECT_TRUE(
      std::isnan(cross_entropy(zeros({2, 2}), from_vector(std::vector<int64_t>{-100, -100}, {2}))
                     .item<double>()));
}

TEST(CrossEntropy, ExtremeAndMaskedLogitsStayFinite) {
  const double inf = std::numeric_limits<double>::infinity();
  Tensor logits = from_vector(std::vector<double>{1e4, -1e4, -inf, -inf, 0, 1e4}, {2, 3})
                      .set_requires_grad(true);
  Tensor labels = from_vector(std::vector<int64_t>{0, 2}, {2});
  Tensor loss = cross_entropy(logits, labels, {.reduction = Reduction::kNone});
  EXPECT_EQ(to_vector(loss), (std::vector<double>{0, 0}));
  sum(loss).backward();
  for (double v : to_vector(logits.grad())) EXPECT_TRUE(std::isfinite(v));
  // The wrong class at 2e4 below gives a loss of 2e4.
  Tensor wrong = cross_entropy(logits.detach(), from_vector(std::vector<int64_t>{1, 1}, {2}),
                               {.reduction = Reduction::kNone});
  EXPECT_EQ(to_vector(wrong)[0], 2e4);
  EXPECT_EQ(to_vector(wrong)[1], 1e4);
}

TEST(CrossEntropy, BadArgumentsThrowNamingTheShapes) {
  auto labels = [](std::vector<int64_t> v) {
    const int64_t n = static_cast<int64_t>(v.size());
    return from_vector(v, {n});
  };
  auto expect_error = [](auto fn, const std::string& part) {
    try {
      fn();
      ADD_FAILURE() << "no exception, expected one containing: " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error(
      [&] {
        cross_entropy(zeros({3, 4}), labels({0, 1}));
      },
      "cross_entropy: class-index targets must be (N) = (3,) for logits (3, 4), got (2,)");
  expect_error(
      [&] {
        cross_entropy(zeros({2, 4}), labels({0, 4}));
      },
      "cross_entropy: target 4 at row 1 is out of range for 4 classes");
  expect_error([&] { cross_entropy(zeros({2, 4}), labels({-3, 1})); }, "target -3 at row 0");
  expect_error(
      [&] {
        cross_entropy(zeros({2, 4}), zeros({2, 3}));
      },
      "cross_entropy: soft targets must match logits (2, 4), got (2, 3)");
  expect_error([&] { cross_entropy(zeros({2, 4}), zeros({2, 4}, DType::kF64)); }, "got f64 (2, 4)");
  expect_error([&] { cross_entropy(zeros({2, 4}), zeros({2}, DType::kBool)); }, "got bool (2,)");
  expect_error(
      [&] {
        cross_entropy(zeros({2, 3, 4}), labels({0, 1}));
      },
      "cross_entropy: logits must be (N, C), got (2, 3, 4)");
  expect_error(
      [&] {
        cross_entropy(zeros({2, 4}), labels({0, 1}), {.label_smoothing = 1.5});
      },
      "label_smoothing must be in [0, 1]");
}

}  // namespace
}  // namespace kiln::testing
