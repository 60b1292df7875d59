// Gradient-check samples for the shape ops and casts.
#include <gtest/gtest.h>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

TensorList cube(DType d, Generator& g) { return {random_tensor({2, 3, 4}, d, g)}; }

KILN_OP_SAMPLE({.op = "reshape",
                .variant = "(2,3,4) to (4,-1)",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return reshape(in[0], {4, -1});
                }});
KILN_OP_SAMPLE({.op = "reshape",
                .variant = "of a transposed view (copies)",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return reshape(transpose(in[0], 0, 2), {-1});
                }});
KILN_OP_SAMPLE(
    {.op = "permute", .variant = "(2,0,1)", .inputs = cube, .apply = [](const TensorList& in) {
       return permute(in[0], {2, 0, 1});
     }});
KILN_OP_SAMPLE({.op = "transpose",
                .variant = "dims 0 and 2",
                .inputs = cube,
                .apply = [](const TensorList& in) { return transpose(in[0], 0, -1); }});
KILN_OP_SAMPLE({.op = "expand",
                .variant = "(3,1) to (2,3,5)",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {random_tensor({3, 1}, d, g)};
                },
                .apply =
                    [](const TensorList& in) {
                      return expand(in[0], {2, 3, 5});
                    }});
KILN_OP_SAMPLE({.op = "contiguous",
                .variant = "of a permuted view",
                .inputs = cube,
                .apply = [](const TensorList& in) {
                  return contiguous(permute(in[0], {1, 2, 0}));
                }});
KILN_OP_SAMPLE({.op = "clone",
                .variant = "2x3x4",
                .inputs = cube,
                .apply = [](const TensorList& in) { return clone(in[0]); }});
KILN_OP_SAMPLE({.op = "to_dtype",
                .variant = "to f32 and back (f32 rounding: a large step)",
                .inputs = cube,
                .apply =
                    [](const TensorList& in) {
                      return to_dtype(mul_scalar(to_dtype(in[0], DType::kF32), 2.0), in[0].dtype());
                    },
                .eps = 1e-2,
                .f64_tolerance = 1e-4,
                .check_f32 = false});

TEST(ShapeOps, ReshapeAndPermuteAreViews) {
  Tensor x = arange(24, DType::kF32);
  Tensor r = reshape(x, {2, 3, 4});
  EXPECT_TRUE(r.shares_storage(x));
  Tensor p = permute(r, {2, 0, 1});
  EXPECT_TRUE(p.shares_storage(x));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(to_vector(p)[1], 4.0);  // p[0][0][1] = x[0][1][0]
}

TEST(ShapeOps, BadReshapeThrowsNamingTheShapes) {
  try {
    reshape(zeros({2, 3}), {4, 2});
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("reshape: cannot reshape (2, 3) (6 elements) to (4, 2)"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::testing
