// Gradient-check samples for the broadcasting binary ops.
#include <gtest/gtest.h>

#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// a (2, 3, 4) with b (3, 1): both broadcast, so the engine's reduction of
// broadcast gradients is exercised too.
TensorList broadcast_pair(DType d, Generator& g) {
  return {random_tensor({2, 3, 4}, d, g, 0.5, 2.0), random_tensor({3, 1}, d, g, 0.5, 2.0)};
}

#define BINARY_SAMPLE(name)                                                                     \
  KILN_OP_SAMPLE({.op = #name,                                                                  \
                  .variant = "broadcast (2,3,4) with (3,1)",                                    \
                  .inputs = broadcast_pair,                                                     \
                  .apply = [](const TensorList& in) { return name(in[0], in[1]); }});           \
  KILN_OP_SAMPLE(                                                                               \
      {.op = #name,                                                                             \
       .variant = "transposed view",                                                            \
       .inputs = [](DType d, Generator& g) -> TensorList {                                      \
         return {random_tensor({4, 3}, d, g, 0.5, 2.0), random_tensor({3, 4}, d, g, 0.5, 2.0)}; \
       },                                                                                       \
       .apply = [](const TensorList& in) { return name(transpose(in[0], 0, 1), in[1]); }})

BINARY_SAMPLE(add);
BINARY_SAMPLE(sub);
BINARY_SAMPLE(mul);
BINARY_SAMPLE(div);

// maximum/minimum: operands apart, so no element sits at a tie.
TensorList separated_pair(DType d, Generator& g) {
  Tensor a = random_tensor({3, 4}, d, g, -1.0, 1.0);
  Tensor offset = mul_scalar(away_from_zero({3, 4}, d, g), 0.5);
  return {a, add(a, offset)};
}

KILN_OP_SAMPLE({.op = "maximum",
                .variant = "3x4",
                .inputs = separated_pair,
                .apply = [](const TensorList& in) { return maximum(in[0], in[1]); }});
KILN_OP_SAMPLE({.op = "minimum",
                .variant = "3x4",
                .inputs = separated_pair,
                .apply = [](const TensorList& in) { return minimum(in[0], in[1]); }});

KILN_OP_SAMPLE({.op = "where",
                .variant = "broadcast condition",
                .inputs = [](DType d, Generator& g) -> TensorList {
                  return {bernoulli({3, 1}, 0.5, g, DType::kBool), random_tensor({3, 4}, d, g),
                          random_tensor({4}, d, g)};
                },
                .apply = [](const TensorList& in) { return where(in[0], in[1], in[2]); }});

KILN_FORWARD_SAMPLE(compare, AllSixComparisonsBroadcast) {
  Tensor a = from_vector(std::vector<float>{1, 2, 3}, {3, 1});
  Tensor b = from_vector(std::vector<float>{2, 2}, {2});
  EXPECT_EQ(to_vector(eq(a, b)), (std::vector<double>{0, 0, 1, 1, 0, 0}));
  EXPECT_EQ(to_vector(ne(a, b)), (std::vector<double>{1, 1, 0, 0, 1, 1}));
  EXPECT_EQ(to_vector(lt(a, b)), (std::vector<double>{1, 1, 0, 0, 0, 0}));
  EXPECT_EQ(to_vector(le(a, b)), (std::vector<double>{1, 1, 1, 1, 0, 0}));
  EXPECT_EQ(to_vector(gt(a, b)), (std::vector<double>{0, 0, 0, 0, 1, 1}));
  EXPECT_EQ(to_vector(ge(a, b)), (std::vector<double>{0, 0, 1, 1, 1, 1}));
  EXPECT_EQ(eq(a, b).dtype(), DType::kBool);
  EXPECT_EQ(to_vector(compare(a, 2.0, CompareOp::kGe)), (std::vector<double>{0, 1, 1}));
}

KILN_FORWARD_SAMPLE(logical, AndOrXorNot) {
  Tensor a = to_dtype(from_vector(std::vector<float>{1, 1, 0, 0}, {4}), DType::kBool);
  Tensor b = to_dtype(from_vector(std::vector<float>{1, 0, 1, 0}, {4}), DType::kBool);
  EXPECT_EQ(to_vector(logical(a, b, LogicalOp::kAnd)), (std::vector<double>{1, 0, 0, 0}));
  EXPECT_EQ(to_vector(logical(a, b, LogicalOp::kOr)), (std::vector<double>{1, 1, 1, 0}));
  EXPECT_EQ(to_vector(logical(a, b, LogicalOp::kXor)), (std::vector<double>{0, 1, 1, 0}));
  EXPECT_EQ(to_vector(logical_not(a)), (std::vector<double>{0, 0, 1, 1}));
}

TEST(BinaryOps, MismatchedDtypesThrowNamingTheOp) {
  Tensor a = zeros({2, 3});
  Tensor b = zeros({2, 3}, DType::kF64);
  try {
    add(a, b);
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add: dtypes differ: f32 (2, 3) and f64 (2, 3)"),
              std::string::npos)
        << e.what();
  }
}

TEST(BinaryOps, IncompatibleShapesThrowNamingTheShapes) {
  try {
    mul(zeros({2, 3}), zeros({4}));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("mul: shapes (2, 3) and (4,) cannot be broadcast"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace kiln::testing
