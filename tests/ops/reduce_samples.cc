// Gradient-check samples for the reductions.
#include <gtest/gtest.h>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

TensorList cube(DType d, Generator& g) { return {random_tensor({2, 3, 4}, d, g)}; }

KILN_OP_SAMPLE({.op = "sum",
                .variant = "all dims",
                .inputs = cube,
                .apply = [](const TensorList& in) { return sum(in[0]); }});
KILN_OP_SAMPLE({.op = "sum",
                .variant = "middle dim keepdim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return sum(in[0], {1}, true); }});
KILN_OP_SAMPLE({.op = "sum",
                .variant = "dims 0 and 2 (not consecutive)",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return sum(in[0], {0, -1});
                }});
KILN_OP_SAMPLE({.op = "mean",
                .variant = "last dim",
                .inputs = cube,
                .apply = [](const TensorList& in) { return mean(in[0], {-1}); }});
KILN_OP_SAMPLE({.op = "sum_to",
                .variant = "(2,3,4) to (3,1)",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return sum_to(in[0], {3, 1});
                }});

TEST(Reduce, LongRowsAreSummedDeterministically) {
  Generator gen(7);
  Tensor x = uniform({3, 100000}, -1, 1, gen);
  Tensor s = sum(x, {1});
  Tensor again = sum(x, {1});
  EXPECT_EQ(to_vector(s), to_vector(again));
  std::vector<double> values = to_vector(x);
  for (int row = 0; row < 3; ++row) {
    double expected = 0;
    for (int i = 0; i < 100000; ++i) expected += values[row * 100000 + i];
    EXPECT_NEAR(to_vector(s)[row], expected, 1e-3);
  }
}

}  // namespace
}  // namespace kiln::testing
