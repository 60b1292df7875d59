// Forward checks of the random factories: determinism, independence from
// the thread count, and moments.
#include <gtest/gtest.h>

#include <cmath>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

double mean_of(const Tensor& t) { return mean(to_dtype(t, DType::kF64)).item<double>(); }
double std_of(const Tensor& t) { return std::sqrt(var(to_dtype(t, DType::kF64)).item<double>()); }

std::vector<double> draw_with_threads(int threads) {
  Context context({.num_threads = threads});
  ContextScope scope(context);
  Generator gen(42);
  return to_vector(normal({100003}, 0, 1, gen));
}

KILN_FORWARD_SAMPLE(normal, SameBitsWhateverTheThreadCount) {
  EXPECT_EQ(draw_with_threads(1), draw_with_threads(2));
  Generator gen(3);
  Tensor x = normal({200000}, 1.5, 2.0, gen);
  EXPECT_NEAR(mean_of(x), 1.5, 0.02);
  EXPECT_NEAR(std_of(x), 2.0, 0.02);
}

KILN_FORWARD_SAMPLE(uniform, RangeAndMoments) {
  Generator gen(5);
  Tensor x = uniform({200000}, -1, 3, gen);
  EXPECT_GE(min(x).item<double>(), -1.0);
  EXPECT_LT(max(x).item<double>(), 3.0);
  EXPECT_NEAR(mean_of(x), 1.0, 0.02);
  Generator same(5);
  EXPECT_EQ(to_vector(uniform({1000}, -1, 3, same)), to_vector(narrow(x, 0, 0, 1000)));
}

KILN_FORWARD_SAMPLE(truncated_normal, WithinTwoStddevs) {
  Generator gen(9);
  Tensor x = truncated_normal({100000}, 0.0, 0.5, gen);
  EXPECT_LE(max(abs(x)).item<double>(), 1.0);
  // stddev of a standard normal truncated to [-2, 2] is 0.8796.
  EXPECT_NEAR(std_of(x), 0.5 * 0.87962566, 0.01);
}

KILN_FORWARD_SAMPLE(bernoulli, Frequency) {
  Generator gen(11);
  EXPECT_NEAR(mean_of(bernoulli({100000}, 0.3, gen)), 0.3, 0.01);
}

KILN_FORWARD_SAMPLE(randint, RangeAndCoverage) {
  Generator gen(13);
  Tensor x = randint({10000}, -3, 4, gen);
  EXPECT_EQ(min(to_dtype(x, DType::kF64)).item<double>(), -3.0);
  EXPECT_EQ(max(to_dtype(x, DType::kF64)).item<double>(), 3.0);
}

TEST(Random, GeneratorAdvancesSoCallsDiffer) {
  Generator gen(1);
  EXPECT_NE(to_vector(normal({8}, 0, 1, gen)), to_vector(normal({8}, 0, 1, gen)));
}

}  // namespace
}  // namespace kiln::testing
