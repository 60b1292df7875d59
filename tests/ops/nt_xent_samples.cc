// Gradient-check samples for nt_xent, with a brute-force reference of the
// loss and argument-error checks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// Two views (3, 4).
TensorList views(DType d, Generator& g) {
  return {random_tensor({3, 4}, d, g, -1, 1), random_tensor({3, 4}, d, g, -1, 1)};
}

KILN_OP_SAMPLE({.op = "nt_xent",
                .variant = "(B, D) views, temperature 0.5",
                .inputs = views,
                .apply = [](const TensorList& in) { return nt_xent(in[0], in[1], 0.5); }});
KILN_OP_SAMPLE({.op = "nt_xent",
                .variant = "one pair, temperature 0.1",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({1, 5}, d, g, -1, 1), random_tensor({1, 5}, d, g, -1, 1)};
                },
                .apply = [](const TensorList& in) { return nt_xent(in[0], in[1], 0.1); }});

// The formula written out: for each anchor i of z = [z1; z2],
// -log(exp(s(i, pos) / t) / sum_{k != i} exp(s(i, k) / t)), cosine s.
double reference(const std::vector<double>& z1, const std::vector<double>& z2, int64_t b, int64_t d,
                 double t) {
  std::vector<std::vector<double>> z;
  for (const auto* v : {&z1, &z2}) {
    for (int64_t i = 0; i < b; ++i) z.emplace_back(v->begin() + i * d, v->begin() + (i + 1) * d);
  }
  auto cosine = [&](size_t i, size_t k) {
    double dot = 0, ni = 0, nk = 0;
    for (int64_t j = 0; j < d; ++j) {
      dot += z[i][j] * z[k][j];
      ni += z[i][j] * z[i][j];
      nk += z[k][j] * z[k][j];
    }
    return dot / std::sqrt(ni * nk);
  };
  double total = 0;
  const size_t n = z.size();
  for (size_t i = 0; i < n; ++i) {
    double denominator = 0;
    for (size_t k = 0; k < n; ++k) {
      if (k != i) denominator += std::exp(cosine(i, k) / t);
    }
    const size_t pos = (i + static_cast<size_t>(b)) % n;
    total += -std::log(std::exp(cosine(i, pos) / t) / denominator);
  }
  return total / static_cast<double>(n);
}

TEST(NtXent, MatchesTheFormulaWrittenOut) {
  Generator gen(7);
  for (double t : {0.1, 0.5, 2.0}) {
    const Tensor z1 = normal({4, 6}, 0, 1, gen, DType::kF64);
    const Tensor z2 = normal({4, 6}, 0, 1, gen, DType::kF64);
    Tensor logits;
    const double loss = nt_xent(z1, z2, t, &logits).item<double>();
    EXPECT_NEAR(loss, reference(to_vector(z1), to_vector(z2), 4, 6, t), 1e-10) << t;
    EXPECT_EQ(logits.shape(), (Shape{8, 8}));
    // f32 agrees with f64.
    const double loss32 =
        nt_xent(to_dtype(z1, DType::kF32), to_dtype(z2, DType::kF32), t).item<double>();
    EXPECT_NEAR(loss32, loss, 1e-4 * (1 + loss));
  }
}

TEST(NtXent, IdenticalViewsOfOrthogonalExamplesGiveTheLowerBound) {
  // z1 = z2 = the identity rows: positives have cosine 1, negatives 0 except
  // the anchor's own (masked) row: loss = -log(e^(1/t) / (e^(1/t) + 2B - 2)).
  const Tensor eye = from_vector(std::vector<double>{1, 0, 0, 0, 1, 0, 0, 0, 1}, {3, 3});
  const double t = 0.5;
  const double want = -std::log(std::exp(1 / t) / (std::exp(1 / t) + 4.0));
  EXPECT_NEAR(nt_xent(eye, eye, t).item<double>(), want, 1e-5);
}

TEST(NtXent, ArgumentErrors) {
  EXPECT_THROW(nt_xent(zeros({2, 3}), zeros({3, 3})), Error);
  EXPECT_THROW(nt_xent(zeros({2, 3}), zeros({2, 3}), 0.0), Error);
  EXPECT_THROW(nt_xent(zeros({6}), zeros({6})), Error);
}

}  // namespace
}  // namespace kiln::testing
