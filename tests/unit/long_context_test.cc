#include "kiln/train/long_context.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "kiln/core/error.h"

namespace kiln::train {
namespace {

TEST(OffsetPowerLawFit, RecoversExactParameters) {
  std::vector<double> x, y;
  for (int i = 1; i <= 200; ++i) {
    x.push_back(i);
    y.push_back(2.5 * std::pow(i, -0.45) + 1.2);
  }
  const OffsetPowerLawFit f = fit_offset_power_law(x, y);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.a, 2.5, 1e-6);
  EXPECT_NEAR(f.b, -0.45, 1e-7);
  EXPECT_NEAR(f.c, 1.2, 1e-6);
  EXPECT_LT(f.rmse, 1e-8);
  EXPECT_NEAR(f(10.0), 2.5 * std::pow(10.0, -0.45) + 1.2, 1e-6);
}

TEST(OffsetPowerLawFit, RecoversParametersUnderNoiseOnALogGrid) {
  std::mt19937 rng(3);
  std::normal_distribution<double> noise(0.0, 0.01);
  std::vector<double> x, y;
  for (int i = 0; i < 60; ++i) {
    const double xi = std::pow(10.0, 4.0 * i / 59.0);  // 1 .. 10^4
    x.push_back(xi);
    y.push_back(3.0 * std::pow(xi, -0.3) + 0.8 + noise(rng));
  }
  const OffsetPowerLawFit f = fit_offset_power_law(x, y);
  ASSERT_TRUE(f.ok);
  EXPECT_NEAR(f.b, -0.3, 0.02);
  EXPECT_NEAR(f.a, 3.0, 0.1);
  EXPECT_NEAR(f.c, 0.8, 0.05);
  EXPECT_NEAR(f.rmse, 0.01, 0.004);
}

TEST(OffsetPowerLawFit, WeightsAndDegenerateInputs) {
  // A zero weight removes an outlier entirely.
  std::vector<double> x = {1, 2, 4, 8, 16, 32}, y, w(6, 1.0);
  for (double v : x) y.push_back(1.0 / v + 2.0);
  y[3] = 100;
  w[3] = 0;
  const OffsetPowerLawFit f = fit_offset_power_law(x, y, w);
  EXPECT_NEAR(f.b, -1.0, 1e-6);
  EXPECT_NEAR(f.c, 2.0, 1e-6);
  // Too few points, non-positive x: not fitted.
  EXPECT_FALSE(fit_offset_power_law({1, 2}, {1, 1}).ok);
  EXPECT_FALSE(fit_offset_power_law({0, 1, 2}, {1, 1, 1}).ok);
  // A constant: a = 0 (or b = 0), c = the constant.
  const OffsetPowerLawFit flat = fit_offset_power_law({1, 2, 3, 4}, {5, 5, 5, 5});
  ASSERT_TRUE(flat.ok);
  EXPECT_NEAR(flat(2.5), 5.0, 1e-9);
  EXPECT_THROW(fit_offset_power_law({1, 2, 3}, {1, 2}), Error);
}

TEST(PositionNll, MeansAndCumulativeMeans) {
  PositionNll p;
  p.add({1, 2, 3, 3, 4, 5}, 2, 3);  // rows (1,2,3) and (3,4,5)
  EXPECT_EQ(p.mean(), (std::vector<double>{2, 3, 4}));
  EXPECT_EQ(p.cumulative_mean(), (std::vector<double>{2, 2.5, 3}));
  EXPECT_THROW(p.add({1, 2}, 1, 3), Error);
}

TEST(PositionBuckets, CoverEveryPositionOnceGeometrically) {
  for (int64_t t : {1, 7, 128, 1000}) {
    for (int64_t n : {1, 4, 12, 40}) {
      const auto b = log_position_buckets(t, n);
      ASSERT_FALSE(b.empty());
      EXPECT_EQ(b.front().first, 0);
      EXPECT_EQ(b.back().second, t);
      for (size_t i = 0; i < b.size(); ++i) {
        EXPECT_LT(b[i].first, b[i].second);
        if (i > 0) {
          EXPECT_EQ(b[i].first, b[i - 1].second);
        }
      }
      EXPECT_LE(static_cast<int64_t>(b.size()), n);
    }
  }
  // Geometric: later buckets are wider.
  const auto b = log_position_buckets(1024, 10);
  EXPECT_EQ(b[0], (std::pair<int64_t, int64_t>{0, 2}));
  EXPECT_GT(b.back().second - b.back().first, b[1].second - b[1].first);
}

std::string haystack() {
  std::string s;
  for (int i = 0; i < 40; ++i) {
    s += "Sentence number " + std::to_string(i) + " is about nothing in particular. ";
    if (i % 5 == 4) s += "\n";
  }
  return s;
}

TEST(Needle, SentenceAndQuery) {
  EXPECT_EQ(needle_sentence("4721"), "The magic number is 4721.");
  EXPECT_EQ(needle_query(), "\nWhat is the magic number? The magic number is ");
  NeedleOptions o;
  o.key = "secret word";
  EXPECT_EQ(needle_query(o), "\nWhat is the secret word? The secret word is ");
}

TEST(Needle, InsertsAtSentenceBoundariesAtTheRequestedDepth) {
  const std::string source = haystack();
  const std::string needle = needle_sentence("4721") + " ";
  const std::string query = needle_query();
  for (int64_t len : {200, 512, 1500}) {
    for (double depth : {0.0, 0.25, 0.5, 0.75, 1.0}) {
      const NeedleExample ex = make_needle_example(source, 123, len, depth, "4721");
      ASSERT_EQ(static_cast<int64_t>(ex.prompt.size()), len);
      EXPECT_EQ(ex.answer, "4721");
      // The needle is where it says, intact, and the prompt ends with the query.
      EXPECT_EQ(ex.prompt.substr(static_cast<size_t>(ex.needle_offset), needle.size()), needle);
      EXPECT_EQ(ex.prompt.substr(ex.prompt.size() - query.size()), query);
      EXPECT_EQ(ex.prompt.find("magic number is 4721"), static_cast<size_t>(ex.needle_offset) + 4);
      // The haystack around it is the source, in order, from the offset.
      const std::string hay =
          ex.prompt.substr(0, static_cast<size_t>(ex.needle_offset)) +
          ex.prompt.substr(static_cast<size_t>(ex.needle_offset) + needle.size(),
                           ex.prompt.size() - needle.size() - query.size() -
                               static_cast<size_t>(ex.needle_offset));
      EXPECT_EQ(hay, (source + source).substr(123, hay.size()));
      // At a sentence boundary (or an end), near the requested depth.
      const int64_t p = ex.needle_offset;
      const bool boundary = p == 0 || p == static_cast<int64_t>(hay.size()) || hay[p - 1] == '\n' ||
                            (p >= 2 && hay[p - 2] == '.' && hay[p - 1] == ' ');
      EXPECT_TRUE(boundary) << "len " << len << " depth " << depth << " at " << p;
      EXPECT_LE(std::abs(static_cast<double>(p) - depth * static_cast<double>(hay.size())), 64.0);
    }
  }
  // Depth 0 puts the needle first, depth 1 right before the query.
  EXPECT_EQ(make_needle_example(source, 5, 300, 0.0, "1").needle_offset, 0);
  const NeedleExample last = make_needle_example(source, 5, 300, 1.0, "1");
  EXPECT_EQ(last.prompt.substr(300 - query.size() - needle_sentence("1").size() - 1,
                               needle_sentence("1").size()),
            needle_sentence("1"));
}

TEST(Needle, WrapsAroundAShortSourceAndRejectsTooShortContexts) {
  const NeedleExample ex = make_needle_example("Short. ", 3, 120, 0.5, "99");
  EXPECT_EQ(ex.prompt.size(), 120u);
  EXPECT_THROW(make_needle_example(haystack(), 0, 20, 0.5, "4721"), Error);
  EXPECT_THROW(make_needle_example(haystack(), 0, 400, 1.5, "4721"), Error);
}

}  // namespace
}  // namespace kiln::train
