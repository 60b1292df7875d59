// Gradient-check samples and argument errors for matmul.
#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "kernels/onednn/runtime.h"
#include "src/ops/linalg/matmul_plan.h"
#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// Random operands of the given shapes.
std::function<TensorList(DType, Generator&)> operands(Shape a, Shape b) {
  return [a, b](DType d, Generator& g) -> TensorList {
    return {random_tensor(a, d, g), random_tensor(b, d, g)};
  };
}

Tensor mm(const TensorList& in) { return matmul(in[0], in[1]); }

// (..., R, C) -> (..., C, R) through the transpose op: a strided view.
Tensor t(const Tensor& x) { return transpose(x, -1, -2); }

KILN_OP_SAMPLE(
    {.op = "matmul", .variant = "(3,4) @ (4,5)", .inputs = operands({3, 4}, {4, 5}), .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "batched (2,3,4) @ (2,4,5)",
                .inputs = operands({2, 3, 4}, {2, 4, 5}),
                .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "broadcast batch (2,1,3,4) @ (3,4,2)",
                .inputs = operands({2, 1, 3, 4}, {3, 4, 2}),
                .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "shared b, folded: (2,3,4) @ (4,5)",
                .inputs = operands({2, 3, 4}, {4, 5}),
                .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "shared a: (3,4) @ (2,4,5)",
                .inputs = operands({3, 4}, {2, 4, 5}),
                .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "shared b with size-1 batch dim: (2,3,4) @ (1,4,5)",
                .inputs = operands({2, 3, 4}, {1, 4, 5}),
                .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "a^T @ b^T as views",
                .inputs = operands({4, 3}, {5, 4}),
                .apply = [](const TensorList& in) { return matmul(t(in[0]), t(in[1])); }});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "batched a^T @ shared b (not foldable)",
                .inputs = operands({2, 4, 3}, {4, 5}),
                .apply = [](const TensorList& in) { return matmul(t(in[0]), in[1]); }});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "batched a @ b^T (attention scores)",
                .inputs = operands({2, 3, 4}, {2, 5, 4}),
                .apply = [](const TensorList& in) { return matmul(in[0], t(in[1])); }});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "no unit stride: copied",
                .inputs = operands({3, 8}, {4, 5}),
                .apply = [](const TensorList& in) {
                  return matmul(slice(in[0], 1, 0, 8, 2), in[1]);
                }});
KILN_OP_SAMPLE(
    {.op = "matmul", .variant = "vector @ matrix", .inputs = operands({4}, {4, 5}), .apply = mm});
KILN_OP_SAMPLE(
    {.op = "matmul", .variant = "matrix @ vector", .inputs = operands({3, 4}, {4}), .apply = mm});
KILN_OP_SAMPLE(
    {.op = "matmul", .variant = "vector @ vector", .inputs = operands({4}, {4}), .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "vector @ batched",
                .inputs = operands({4}, {2, 4, 3}),
                .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "batched @ vector",
                .inputs = operands({2, 3, 4}, {4}),
                .apply = mm});
KILN_OP_SAMPLE(
    {.op = "matmul", .variant = "sizes 1", .inputs = operands({1, 1, 4}, {4, 1}), .apply = mm});
KILN_OP_SAMPLE({.op = "matmul",
                .variant = "only b needs grad",
                .inputs = operands({2, 3, 4}, {4, 2}),
                .apply = mm,
                .wrt = {1}});

// bf16 in, bf16 out, f32 accumulation: close to the f32 product.
TEST(Matmul, Bf16MatchesF32WithinRounding) {
  Generator gen(5);
  Tensor a = random_tensor({2, 7, 33}, DType::kF32, gen);
  Tensor b = random_tensor({33, 6}, DType::kF32, gen);
  Tensor a16 = to_dtype(a, DType::kBF16), b16 = to_dtype(b, DType::kBF16);
  Tensor c16 = matmul(t(t(a16)), t(contiguous(t(b16))));
  EXPECT_EQ(c16.dtype(), DType::kBF16);
  const std::vector<double> got = to_vector(c16);
  const std::vector<double> want =
      to_vector(matmul(to_dtype(a16, DType::kF32), to_dtype(b16, DType::kF32)));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], 1e-2 * (1 + std::abs(want[i])));
}

TEST(Matmul, Bf16Backward) {
  Generator gen(6);
  Tensor a = to_dtype(random_tensor({2, 3, 8}, DType::kF32, gen), DType::kBF16);
  Tensor b = to_dtype(random_tensor({8, 4}, DType::kF32, gen), DType::kBF16);
  a.set_requires_grad();
  b.set_requires_grad();
  sum(to_dtype(matmul(a, b), DType::kF32)).backward();
  ASSERT_EQ(a.grad().dtype(), DType::kBF16);
  ASSERT_EQ(b.grad().dtype(), DType::kBF16);
  // d sum(a b) / da = ones @ b^T: each row of da is b's row sums.
  const std::vector<double> da = to_vector(a.grad());
  const std::vector<double> bv = to_vector(b);
  for (int64_t k = 0; k < 8; ++k) {
    double row = 0;
    for (int64_t n = 0; n < 4; ++n) row += bv[k * 4 + n];
    EXPECT_NEAR(da[k], row, 2e-2);
  }
}

TEST(Matmul, TransposedViewsAreNotCopied) {
  Tensor a = zeros({6, 4}), b = zeros({5, 4}), batch = zeros({3, 4, 6});
  ops_internal::MatmulPlan p = ops_internal::plan_matmul(transpose(a, 0, 1), b);
  EXPECT_FALSE(p.a_copied);
  EXPECT_FALSE(p.b_copied);
  p = ops_internal::plan_matmul(b, transpose(a, 0, 1));
  EXPECT_FALSE(p.b_copied);
  p = ops_internal::plan_matmul(transpose(batch, 1, 2), transpose(transpose(batch, 1, 2), 1, 2));
  EXPECT_FALSE(p.a_copied);
  EXPECT_FALSE(p.b_copied);
  EXPECT_EQ(p.desc.batch_rank, 1);
  // Neither matrix stride is 1: a copy.
  p = ops_internal::plan_matmul(slice(a, 1, 0, 4, 2), zeros({2, 3}));
  EXPECT_TRUE(p.a_copied);
  // An expanded (stride 0) row dim overlaps rows: a copy too.
  p = ops_internal::plan_matmul(expand(zeros({1, 4}), {6, 4}), zeros({4, 2}));
  EXPECT_TRUE(p.a_copied);
}

TEST(Matmul, SharedWeightBatchIsFoldedIntoOneProduct) {
  ops_internal::MatmulPlan p = ops_internal::plan_matmul(zeros({2, 3, 4}), zeros({4, 5}));
  EXPECT_EQ(p.desc.batch_rank, 0);
  EXPECT_EQ(p.desc.m, 6);
  EXPECT_EQ(p.out_shape, (Shape{2, 3, 5}));
  // Batch dims that are contiguous in both operands merge into one.
  p = ops_internal::plan_matmul(zeros({2, 3, 4, 5}), zeros({2, 3, 5, 6}));
  EXPECT_EQ(p.desc.batch_rank, 1);
  EXPECT_EQ(p.desc.batch[0], 6);
}

TEST(Matmul, RepeatedCallsReuseThePrimitive) {
  Generator gen(1);
  Tensor a = random_tensor({9, 11}, DType::kF32, gen), b = random_tensor({11, 3}, DType::kF32, gen);
  kernels::OnednnRuntime& runtime = Context::current().onednn();
  const Tensor first = matmul(a, b);
  const int64_t misses = runtime.cache_stats().misses;
  const int64_t hits = runtime.cache_stats().hits;
  const Tensor second = matmul(a, b);
  EXPECT_EQ(runtime.cache_stats().misses, misses);
  EXPECT_GT(runtime.cache_stats().hits, hits);
  EXPECT_EQ(to_vector(first), to_vector(second));
}

TEST(Matmul, EmptyDims) {
  EXPECT_EQ(matmul(zeros({0, 3}), zeros({3, 2})).shape(), (Shape{0, 2}));
  // K = 0: a sum of nothing.
  EXPECT_EQ(to_vector(matmul(ones({2, 0}), ones({0, 3}))), std::vector<double>(6, 0.0));
  EXPECT_EQ(to_vector(matmul(ones({2, 0}, DType::kF64), ones({0, 3}, DType::kF64))),
            std::vector<double>(6, 0.0));
  EXPECT_EQ(matmul(zeros({0, 2, 3}), zeros({3, 2})).shape(), (Shape{0, 2, 2}));
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    FAIL() << "no exception, expected: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Matmul, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        matmul(zeros({2, 3}), zeros({4, 5}));
      },
      "matmul: shapes (2, 3) and (4, 5) do not match (3 != 4)");
  expect_error([] { matmul(zeros({3}), zeros({4})); }, "matmul: shapes (3,) and (4,)");
  expect_error(
      [] {
        matmul(zeros({2, 2, 3}), zeros({3, 3, 5}));
      },
      "matmul: batch dims of (2, 2, 3) and (3, 3, 5) do not broadcast");
  expect_error([] { matmul(zeros({2, 3}), zeros({3, 5}, DType::kF64)); }, "matmul: dtypes differ");
  expect_error(
      [] {
        matmul(zeros({2, 3}, DType::kI32), zeros({3, 5}, DType::kI32));
      },
      "matmul: needs f32, bf16 or f64 tensors, got i32 (2, 3)");
  expect_error([] { matmul(zeros({}), zeros({3})); },
               "matmul: needs tensors of rank >= 1, got () and (3,)");
}

}  // namespace
}  // namespace kiln::testing
