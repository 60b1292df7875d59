// AutocastScope: matmul and conv2d compute in bf16 inside it and hand back
// f32, the gradients reach the f32 inputs in f32, and every other op and
// the code outside the scope are untouched.
#include <gtest/gtest.h>

#include <cmath>

#include "kiln/kiln.h"
#include "kiln/ops/autocast.h"

namespace kiln {
namespace {

double max_abs_diff(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = to_vector(a), y = to_vector(b);
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

// The same product computed by hand from bf16-rounded operands.
Tensor bf16_reference(const Tensor& a, const Tensor& b) {
  return to_dtype(matmul(to_dtype(a.detach(), DType::kBF16), to_dtype(b.detach(), DType::kBF16)),
                  DType::kF32);
}

TEST(Autocast, MatmulRunsInBf16AndReturnsF32) {
  Generator gen(1);
  Tensor a = normal({16, 32}, 0, 1, gen), b = normal({32, 8}, 0, 1, gen);
  Tensor c;
  {
    const AutocastScope autocast(DType::kBF16);
    ASSERT_EQ(autocast_dtype(), DType::kBF16);
    c = matmul(a, b);
  }
  EXPECT_FALSE(autocast_dtype().has_value());
  EXPECT_EQ(c.dtype(), DType::kF32);
  EXPECT_EQ(max_abs_diff(c, bf16_reference(a, b)), 0.0);
  // bf16 rounding is visible: the f32 product differs, but only slightly.
  const double error = max_abs_diff(c, matmul(a, b));
  EXPECT_GT(error, 0.0);
  EXPECT_LT(error, 0.1);
}

TEST(Autocast, GradientsReachTheF32InputsInF32) {
  Generator gen(2);
  Tensor a = normal({4, 6}, 0, 1, gen).set_requires_grad(true);
  Tensor b = normal({6, 3}, 0, 1, gen).set_requires_grad(true);
  {
    const AutocastScope autocast(DType::kBF16);
    sum(matmul(a, b)).backward();
  }
  ASSERT_EQ(a.grad().dtype(), DType::kF32);
  ASSERT_EQ(b.grad().dtype(), DType::kF32);
  // d sum(a b) / da = 1 b^T: the row sums of b, here from bf16-rounded b.
  const Tensor expected_a = expand(
      reshape(sum(to_dtype(to_dtype(b.detach(), DType::kBF16), DType::kF32), {1}), {1, 6}), {4, 6});
  EXPECT_LT(max_abs_diff(a.grad(), expected_a), 1e-2);
  const Tensor expected_b = expand(reshape(sum(a.detach(), {0}), {6, 1}), {6, 3});
  EXPECT_LT(max_abs_diff(b.grad(), expected_b), 5e-2);
}

TEST(Autocast, Conv2dRunsInBf16AndReturnsF32) {
  Generator gen(3);
  Tensor x = normal({2, 5, 5, 4}, 0, 1, gen).set_requires_grad(true);
  Tensor w = normal({3, 3, 4, 6}, 0, 0.3, gen).set_requires_grad(true);
  Tensor bias = normal({6}, 0, 1, gen).set_requires_grad(true);
  Conv2dOptions options;
  options.padding = {1, 1, 1, 1};
  Tensor y;
  {
    const AutocastScope autocast(DType::kBF16);
    y = conv2d(x, w, bias, options);
    sum(y).backward();
  }
  EXPECT_EQ(y.dtype(), DType::kF32);
  const double error = max_abs_diff(y, conv2d(x.detach(), w.detach(), bias.detach(), options));
  EXPECT_GT(error, 0.0);
  EXPECT_LT(error, 0.15);
  EXPECT_EQ(x.grad().dtype(), DType::kF32);
  EXPECT_EQ(w.grad().dtype(), DType::kF32);
  EXPECT_EQ(bias.grad().dtype(), DType::kF32);
  // d sum(y) / d bias = the number of output positions per channel.
  for (double g : to_vector(bias.grad())) EXPECT_EQ(g, 2.0 * 5 * 5);
}

TEST(Autocast, LeavesOtherOpsAndF64Alone) {
  Generator gen(4);
  Tensor x = normal({3, 7}, 0, 1, gen);
  Tensor d = normal({7, 2}, 0, 1, gen, DType::kF64);
  const Tensor plain = softmax(x, -1);
  const AutocastScope autocast(DType::kBF16);
  EXPECT_EQ(max_abs_diff(softmax(x, -1), plain), 0.0);
  // f64 products (gradient checks) are never rounded.
  Tensor e = normal({3, 7}, 0, 1, gen, DType::kF64);
  EXPECT_EQ(matmul(e, d).dtype(), DType::kF64);
  {
    const AutocastScope off(std::nullopt);
    EXPECT_FALSE(autocast_dtype().has_value());
  }
  EXPECT_EQ(autocast_dtype(), DType::kBF16);
}

}  // namespace
}  // namespace kiln
