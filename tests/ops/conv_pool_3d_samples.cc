// Gradient-check samples and argument errors for conv3d, the 3-D pools and
// upsample_nearest2d.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "kiln/ops/autocast.h"
#include "support/gradcheck.h"

namespace kiln::testing {
namespace {

// x, weight and (if bias) bias of the given shapes.
std::function<TensorList(DType, Generator&)> conv_inputs(Shape x, Shape w, bool bias) {
  return [x, w, bias](DType d, Generator& g) -> TensorList {
    TensorList in{random_tensor(x, d, g), random_tensor(w, d, g)};
    if (bias) in.push_back(random_tensor({w.back()}, d, g));
    return in;
  };
}

Conv3dOptions conv3d_options(std::array<int64_t, 3> stride, PaddingMode mode,
                             std::array<int64_t, 6> padding = {0, 0, 0, 0, 0, 0},
                             std::array<int64_t, 3> dilation = {1, 1, 1}, int64_t groups = 1) {
  Conv3dOptions o;
  o.stride = stride;
  o.padding_mode = mode;
  o.padding = padding;
  o.dilation = dilation;
  o.groups = groups;
  return o;
}

std::function<Tensor(const TensorList&)> conv3d_apply(Conv3dOptions o) {
  return [o](const TensorList& in) {
    return conv3d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), o);
  };
}

KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "3x3x3 explicit padding 1, bias",
                .inputs = conv_inputs({1, 3, 4, 4, 2}, {3, 3, 3, 2, 3}, true),
                .apply = conv3d_apply(conv3d_options({1, 1, 1}, PaddingMode::kExplicit,
                                                     {1, 1, 1, 1, 1, 1}))});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "3x3x3 SAME stride 2 on even sizes (asymmetric)",
                .inputs = conv_inputs({2, 4, 4, 6, 2}, {3, 3, 3, 2, 2}, true),
                .apply = conv3d_apply(conv3d_options({2, 2, 2}, PaddingMode::kSame))});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "3x2x3 VALID stride (1, 2, 1), odd sizes, no bias",
                .inputs = conv_inputs({1, 5, 5, 4, 2}, {3, 2, 3, 2, 2}, false),
                .apply = conv3d_apply(conv3d_options({1, 2, 1}, PaddingMode::kValid))});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "lopsided explicit padding (1, 0, 0, 2, 1, 1)",
                .inputs = conv_inputs({1, 3, 3, 4, 2}, {2, 3, 3, 2, 2}, true),
                .apply = conv3d_apply(conv3d_options({1, 1, 1}, PaddingMode::kExplicit,
                                                     {1, 0, 0, 2, 1, 1}))});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "dilation (2, 1, 2) SAME, groups 2",
                .inputs = conv_inputs({1, 5, 4, 5, 4}, {2, 3, 2, 2, 4}, true),
                .apply = conv3d_apply(conv3d_options({1, 1, 1}, PaddingMode::kSame, {}, {2, 1, 2},
                                                     2))});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "1x1x1",
                .inputs = conv_inputs({2, 2, 3, 3, 3}, {1, 1, 1, 3, 4}, true),
                .apply = conv3d_apply(conv3d_options({1, 1, 1}, PaddingMode::kValid))});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "only x needs grad",
                .inputs = conv_inputs({1, 3, 3, 3, 2}, {3, 3, 3, 2, 2}, true),
                .apply = conv3d_apply(conv3d_options({1, 1, 1}, PaddingMode::kSame)),
                .wrt = {0}});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "only bias needs grad",
                .inputs = conv_inputs({2, 2, 3, 3, 2}, {3, 3, 3, 2, 3}, true),
                .apply = conv3d_apply(conv3d_options({1, 1, 1}, PaddingMode::kSame)),
                .wrt = {2}});
KILN_OP_SAMPLE({.op = "conv3d",
                .variant = "input a permuted (N, C, D, H, W) view",
                .inputs = conv_inputs({1, 2, 3, 4, 3}, {3, 3, 3, 2, 2}, false),
                .apply = [](const TensorList& in) {
                  return conv3d(permute(in[0], {0, 2, 3, 4, 1}), in[1], Tensor(),
                                conv3d_options({1, 1, 1}, PaddingMode::kSame));
                }});

Pool3dOptions pool3d_options(std::array<int64_t, 3> kernel, std::array<int64_t, 3> stride,
                             PaddingMode mode,
                             std::array<int64_t, 6> padding = {0, 0, 0, 0, 0, 0}) {
  Pool3dOptions o;
  o.kernel = kernel;
  o.stride = stride;
  o.padding_mode = mode;
  o.padding = padding;
  return o;
}

std::function<TensorList(DType, Generator&)> volume(Shape x) {
  return [x](DType d, Generator& g) -> TensorList { return {random_tensor(x, d, g)}; };
}

// Max pooling needs values at least 1 / n apart (no ties for the finite
// differences or the f32 rounding to flip): a scrambled ramp plus noise
// smaller than its step.
std::function<TensorList(DType, Generator&)> distinct_volume(Shape x) {
  return [x](DType d, Generator& g) -> TensorList {
    const int64_t n = shape_numel(x);
    std::vector<double> v = to_vector(random_tensor(x, DType::kF64, g, -0.3, 0.3));
    for (int64_t i = 0; i < n; ++i) {
      v[i] = (static_cast<double>((i * 37 + 11) % n) + v[i]) / static_cast<double>(n) - 0.5;
    }
    return {from_vector(v, x, d)};
  };
}

#define POOL3D_SAMPLES(pool_op, inputs_of)                                                      \
  KILN_OP_SAMPLE(                                                                               \
      {.op = #pool_op,                                                                          \
       .variant = "2x2x2 stride 2",                                                             \
       .inputs = inputs_of({2, 4, 4, 4, 3}),                                                    \
       .apply = [](const TensorList& in) {                                                      \
         return pool_op(in[0], pool3d_options({2, 2, 2}, {2, 2, 2}, PaddingMode::kValid));      \
       }});                                                                                     \
  KILN_OP_SAMPLE(                                                                               \
      {.op = #pool_op,                                                                          \
       .variant = "3x3x3 SAME stride 2 (asymmetric)",                                           \
       .inputs = inputs_of({1, 4, 6, 5, 2}),                                                    \
       .apply = [](const TensorList& in) {                                                      \
         return pool_op(in[0], pool3d_options({3, 3, 3}, {2, 2, 2}, PaddingMode::kSame));       \
       }});                                                                                     \
  KILN_OP_SAMPLE({.op = #pool_op,                                                               \
                  .variant = "3x3x3 stride 1 explicit padding (1, 0, 1, 1, 0, 2)",              \
                  .inputs = inputs_of({1, 3, 4, 4, 2}),                                         \
                  .apply = [](const TensorList& in) {                                           \
                    return pool_op(in[0],                                                       \
                                   pool3d_options({3, 3, 3}, {1, 1, 1}, PaddingMode::kExplicit, \
                                                  {1, 0, 1, 1, 0, 2}));                         \
                  }});                                                                          \
  KILN_OP_SAMPLE(                                                                               \
      {.op = #pool_op,                                                                          \
       .variant = "2x3x1 window, stride (1, 2, 1), VALID, odd sizes",                           \
       .inputs = inputs_of({1, 3, 7, 3, 2}),                                                    \
       .apply = [](const TensorList& in) {                                                      \
         return pool_op(in[0], pool3d_options({2, 3, 1}, {1, 2, 1}, PaddingMode::kValid));      \
       }})

POOL3D_SAMPLES(max_pool3d, distinct_volume);
POOL3D_SAMPLES(avg_pool3d, volume);

KILN_OP_SAMPLE({.op = "upsample_nearest2d",
                .variant = "x2",
                .inputs = volume({2, 3, 4, 3}),
                .apply = [](const TensorList& in) { return upsample_nearest2d(in[0], 2, 2); }});
KILN_OP_SAMPLE({.op = "upsample_nearest2d",
                .variant = "(2, 3), odd sizes",
                .inputs = volume({2, 3, 5, 2}),
                .apply = [](const TensorList& in) { return upsample_nearest2d(in[0], 2, 3); }});
KILN_OP_SAMPLE({.op = "upsample_nearest2d",
                .variant = "(3, 1) on a permuted view",
                .inputs = volume({1, 2, 3, 4}),
                .apply = [](const TensorList& in) {
                  return upsample_nearest2d(permute(in[0], {0, 2, 3, 1}), 3, 1);
                }});

// Values, not just gradients.

// A 3-D convolution whose kernel has depth 1 is the 2-D one on every frame.
TEST(Conv3d, DepthOneKernelIsConv2dPerFrame) {
  Generator g(1);
  Tensor x = random_tensor({2, 3, 5, 6, 4}, DType::kF32, g);
  Tensor w = random_tensor({1, 3, 3, 4, 5}, DType::kF32, g);
  Tensor b = random_tensor({5}, DType::kF32, g);
  const Tensor y = conv3d(x, w, b, conv3d_options({1, 2, 2}, PaddingMode::kSame));
  Conv2dOptions o2;
  o2.stride = {2, 2};
  o2.padding_mode = PaddingMode::kSame;
  const Tensor y2 = conv2d(reshape(x, {6, 5, 6, 4}), reshape(w, {3, 3, 4, 5}), b, o2);
  EXPECT_EQ(y.shape(), (Shape{2, 3, 3, 3, 5}));
  const std::vector<double> got = to_vector(y), want = to_vector(y2);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-5);
}

// Summing frames: a (KD, 1, 1) kernel of ones over one channel adds KD
// consecutive frames.
TEST(Conv3d, DepthKernelSumsFrames) {
  Tensor x = from_vector(std::vector<double>{1, 2, 4, 8}, {1, 4, 1, 1, 1}, DType::kF64);
  Tensor w = from_vector(std::vector<double>{1, 1}, {2, 1, 1, 1, 1}, DType::kF64);
  const Conv3dOptions o = conv3d_options({1, 1, 1}, PaddingMode::kValid);
  EXPECT_EQ(to_vector(conv3d(x, w, Tensor(), o)), (std::vector<double>{3, 6, 12}));
  EXPECT_EQ(to_vector(conv3d(to_dtype(x, DType::kF32), to_dtype(w, DType::kF32), Tensor(), o)),
            (std::vector<double>{3, 6, 12}));
}

TEST(Conv3d, Bf16AndAutocastMatchF32WithinRounding) {
  Generator g(3);
  Tensor x = random_tensor({1, 3, 4, 4, 4}, DType::kF32, g);
  Tensor w = random_tensor({3, 3, 3, 4, 6}, DType::kF32, g);
  const Conv3dOptions o = conv3d_options({1, 1, 1}, PaddingMode::kSame);
  const std::vector<double> want = to_vector(conv3d(x, w, Tensor(), o));
  Tensor y16 = conv3d(to_dtype(x, DType::kBF16), to_dtype(w, DType::kBF16), Tensor(), o);
  EXPECT_EQ(y16.dtype(), DType::kBF16);
  Tensor y_auto;
  {
    const AutocastScope autocast(DType::kBF16);
    y_auto = conv3d(x, w, Tensor(), o);
  }
  EXPECT_EQ(y_auto.dtype(), DType::kF32);
  const std::vector<double> a = to_vector(y16), b = to_vector(y_auto);
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_NEAR(a[i], want[i], 5e-2 * (1 + std::abs(want[i]))) << i;
    ASSERT_NEAR(b[i], want[i], 5e-2 * (1 + std::abs(want[i]))) << i;
  }
}

TEST(Pooling3d, AvgSameExcludesPadding) {
  // (1, 2, 2, 2, 1) with a 3x3x3 SAME window at stride 1: every window covers
  // the whole volume, so every output is the mean of the 8 elements.
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 6, 0, 4, 5, 3}, {1, 2, 2, 2, 1});
  const Pool3dOptions o = pool3d_options({3, 3, 3}, {1, 1, 1}, PaddingMode::kSame);
  EXPECT_EQ(to_vector(avg_pool3d(x, o)), (std::vector<double>(8, 3.0)));
  EXPECT_EQ(to_vector(avg_pool3d(to_dtype(x, DType::kF64), o)), (std::vector<double>(8, 3.0)));
}

TEST(Pooling3d, MaxIgnoresPaddingAndRoutesTheGradient) {
  Tensor x = from_vector(std::vector<float>{-8, -7, -6, -5, -4, -3, -2, -1}, {1, 2, 2, 2, 1})
                 .set_requires_grad();
  Tensor y = max_pool3d(
      x, pool3d_options({2, 2, 2}, {1, 1, 1}, PaddingMode::kExplicit, {1, 0, 1, 0, 1, 0}));
  // Windows over padding see only negative real values: padding is not 0.
  EXPECT_EQ(to_vector(y), (std::vector<double>{-8, -7, -6, -5, -4, -3, -2, -1}));
  sum(y).backward();
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>(8, 1.0)));
}

TEST(Pooling3d, Bf16RunsAndMatchesF32) {
  Generator g(5);
  Tensor x32 = random_tensor({2, 4, 6, 6, 3}, DType::kF32, g);
  Tensor x = to_dtype(x32, DType::kBF16).set_requires_grad();
  const Pool3dOptions o = pool3d_options({3, 3, 3}, {2, 2, 2}, PaddingMode::kSame);
  for (auto pool : {&max_pool3d, &avg_pool3d}) {
    Tensor y = pool(x, o);
    EXPECT_EQ(y.dtype(), DType::kBF16);
    const std::vector<double> got = to_vector(y);
    const std::vector<double> want = to_vector(pool(to_dtype(x.detach(), DType::kF32), o));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-2);
    x.zero_grad();
    sum(to_dtype(y, DType::kF32)).backward();
    EXPECT_NEAR(sum(to_dtype(x.grad(), DType::kF32)).item<double>(), static_cast<double>(y.numel()),
                0.1);
  }
}

TEST(UpsampleNearest2d, RepeatsPixelsAndSumsTheGradient) {
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 4}, {1, 2, 2, 1}).set_requires_grad();
  Tensor y = upsample_nearest2d(x, 2, 3);
  EXPECT_EQ(y.shape(), (Shape{1, 4, 6, 1}));
  EXPECT_EQ(to_vector(y), (std::vector<double>{1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                                               3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4}));
  sum(y).backward();
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>(4, 6.0)));
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    FAIL() << "no exception, expected: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Conv3d, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        conv3d(zeros({1, 2, 5, 5, 3}), zeros({3, 3, 3, 4, 8}), Tensor());
      },
      "conv3d: x (1, 2, 5, 5, 3), weight (3, 3, 3, 4, 8) with groups 1");
  expect_error(
      [] {
        conv3d(zeros({2, 5, 5, 3}), zeros({3, 3, 3, 8}), Tensor());
      },
      "conv3d: needs x (N, D, H, W, C_in) and weight (KD, KH, KW, C_in / groups, "
      "C_out), got x (2, 5, 5, 3)");
  expect_error(
      [] {
        conv3d(zeros({1, 3, 5, 5, 3}), zeros({3, 3, 3, 3, 8}), zeros({7}));
      },
      "conv3d: bias (7,) does not match C_out 8 of weight (3, 3, 3, 3, 8)");
  expect_error(
      [] {
        conv3d(zeros({1, 2, 5, 5, 3}), zeros({3, 3, 3, 3, 8}), Tensor());
      },
      "conv3d: x (1, 2, 5, 5, 3), weight (3, 3, 3, 3, 8) gives an empty output");
  expect_error(
      [] {
        conv3d(zeros({1, 3, 5, 5, 3}), zeros({3, 3, 3, 3, 8}), Tensor(),
               conv3d_options({1, 0, 1}, PaddingMode::kSame));
      },
      "conv3d: stride (1, 0, 1) and dilation (1, 1, 1) must be >= 1");
  expect_error(
      [] {
        conv3d(zeros({1, 3, 5, 5, 3}), zeros({3, 3, 3, 3, 8}), Tensor(),
               conv3d_options({1, 1, 1}, PaddingMode::kExplicit, {0, -1, 0, 0, 0, 0}));
      },
      "conv3d: negative padding (0, -1, 0, 0, 0, 0)");
}

TEST(Pooling3d, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        max_pool3d(zeros({1, 4, 4, 3}), pool3d_options({2, 2, 2}, {2, 2, 2}, PaddingMode::kValid));
      },
      "max_pool3d: needs x (N, D, H, W, C), got (1, 4, 4, 3)");
  expect_error(
      [] {
        avg_pool3d(
            zeros({1, 4, 4, 4, 3}),
            pool3d_options({2, 2, 2}, {2, 2, 2}, PaddingMode::kExplicit, {0, 0, 0, 2, 0, 0}));
      },
      "avg_pool3d: padding (0, 0, 0, 2, 0, 0) must be >= 0 and smaller than the kernel "
      "(2, 2, 2)");
  expect_error(
      [] {
        max_pool3d(zeros({1, 1, 4, 4, 3}),
                   pool3d_options({2, 2, 2}, {1, 1, 1}, PaddingMode::kValid));
      },
      "max_pool3d: x (1, 1, 4, 4, 3) is smaller than the window (2, 2, 2)");
  expect_error(
      [] {
        avg_pool3d(zeros({1, 4, 4, 4, 3}),
                   pool3d_options({2, 2, 2}, {2, 0, 2}, PaddingMode::kValid));
      },
      "avg_pool3d: kernel (2, 2, 2) and stride (2, 0, 2) must be >= 1");
}

TEST(UpsampleNearest2d, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        upsample_nearest2d(zeros({1, 2, 2, 1}), 0, 2);
      },
      "upsample_nearest2d: scale (0, 2) must be >= 1 for x (1, 2, 2, 1)");
  expect_error(
      [] {
        upsample_nearest2d(zeros({2, 2, 1}), 2, 2);
      },
      "upsample_nearest2d: input (N, H, W, C) must have rank 4, got shape (2, 2, 1)");
}

}  // namespace
}  // namespace kiln::testing
