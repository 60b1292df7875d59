// Gradient-check samples and argument errors for conv2d and the pooling ops.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>

#include "kernels/onednn/runtime.h"
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

std::function<Tensor(const TensorList&)> conv_apply(Conv2dOptions o) {
  return [o](const TensorList& in) {
    return conv2d(in[0], in[1], in.size() > 2 ? in[2] : Tensor(), o);
  };
}

Conv2dOptions conv_options(std::array<int64_t, 2> stride, PaddingMode mode,
                           std::array<int64_t, 4> padding = {0, 0, 0, 0},
                           std::array<int64_t, 2> dilation = {1, 1}, int64_t groups = 1) {
  Conv2dOptions o;
  o.stride = stride;
  o.padding_mode = mode;
  o.padding = padding;
  o.dilation = dilation;
  o.groups = groups;
  return o;
}

KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "3x3 explicit padding 1, bias",
                .inputs = conv_inputs({1, 4, 4, 2}, {3, 3, 2, 3}, true),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kExplicit, {1, 1, 1, 1}))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "3x3 SAME stride 2 on an even input (asymmetric)",
                .inputs = conv_inputs({2, 6, 4, 2}, {3, 3, 2, 2}, true),
                .apply = conv_apply(conv_options({2, 2}, PaddingMode::kSame))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "3x3 VALID stride 2, odd sizes, no bias",
                .inputs = conv_inputs({1, 7, 5, 2}, {3, 3, 2, 2}, false),
                .apply = conv_apply(conv_options({2, 2}, PaddingMode::kValid))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "groups 2",
                .inputs = conv_inputs({1, 4, 4, 4}, {3, 3, 2, 4}, true),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kSame, {}, {1, 1}, 2))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "depthwise, multiplier 2",
                .inputs = conv_inputs({1, 5, 5, 3}, {3, 3, 1, 6}, true),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kSame, {}, {1, 1}, 3))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "dilation 2 SAME",
                .inputs = conv_inputs({1, 6, 5, 2}, {3, 3, 2, 2}, false),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kSame, {}, {2, 2}))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "1x1",
                .inputs = conv_inputs({2, 3, 3, 3}, {1, 1, 3, 4}, true),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kValid))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "5x3 kernel, stride (1, 2), padding (2, 1, 0, 1)",
                .inputs = conv_inputs({1, 6, 7, 2}, {5, 3, 2, 2}, true),
                .apply = conv_apply(conv_options({1, 2}, PaddingMode::kExplicit, {2, 1, 0, 1}))});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "only x needs grad",
                .inputs = conv_inputs({1, 4, 4, 2}, {3, 3, 2, 2}, true),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kSame)),
                .wrt = {0}});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "only bias needs grad",
                .inputs = conv_inputs({2, 3, 3, 2}, {3, 3, 2, 3}, true),
                .apply = conv_apply(conv_options({1, 1}, PaddingMode::kSame)),
                .wrt = {2}});
KILN_OP_SAMPLE({.op = "conv2d",
                .variant = "input a permuted (N, C, H, W) view",
                .inputs = conv_inputs({1, 2, 4, 5}, {3, 3, 2, 2}, false),
                .apply = [](const TensorList& in) {
                  return conv2d(permute(in[0], {0, 2, 3, 1}), in[1], Tensor(),
                                conv_options({1, 1}, PaddingMode::kSame));
                }});

Pool2dOptions pool_options(std::array<int64_t, 2> kernel, std::array<int64_t, 2> stride,
                           PaddingMode mode, std::array<int64_t, 4> padding = {0, 0, 0, 0}) {
  Pool2dOptions o;
  o.kernel = kernel;
  o.stride = stride;
  o.padding_mode = mode;
  o.padding = padding;
  return o;
}

std::function<TensorList(DType, Generator&)> image(Shape x) {
  return [x](DType d, Generator& g) -> TensorList { return {random_tensor(x, d, g)}; };
}

// Max pooling needs values at least 1 / n apart (no ties for the finite
// differences or the f32 rounding to flip): a scrambled ramp plus noise
// smaller than its step.
std::function<TensorList(DType, Generator&)> distinct_image(Shape x) {
  return [x](DType d, Generator& g) -> TensorList {
    const int64_t n = shape_numel(x);
    std::vector<double> v = to_vector(random_tensor(x, DType::kF64, g, -0.3, 0.3));
    for (int64_t i = 0; i < n; ++i) {
      v[i] = (static_cast<double>((i * 37 + 11) % n) + v[i]) / static_cast<double>(n) - 0.5;
    }
    return {from_vector(v, x, d)};
  };
}

#define POOL_SAMPLES(pool_op, inputs_of)                                                       \
  KILN_OP_SAMPLE({.op = #pool_op,                                                              \
                  .variant = "2x2 stride 2",                                                   \
                  .inputs = inputs_of({2, 4, 4, 3}),                                           \
                  .apply = [](const TensorList& in) {                                          \
                    return pool_op(in[0], pool_options({2, 2}, {2, 2}, PaddingMode::kValid));  \
                  }});                                                                         \
  KILN_OP_SAMPLE({.op = #pool_op,                                                              \
                  .variant = "3x3 SAME stride 2 (asymmetric)",                                 \
                  .inputs = inputs_of({1, 6, 5, 2}),                                           \
                  .apply = [](const TensorList& in) {                                          \
                    return pool_op(in[0], pool_options({3, 3}, {2, 2}, PaddingMode::kSame));   \
                  }});                                                                         \
  KILN_OP_SAMPLE({.op = #pool_op,                                                              \
                  .variant = "3x3 stride 1 explicit padding 1",                                \
                  .inputs = inputs_of({1, 5, 4, 2}),                                           \
                  .apply = [](const TensorList& in) {                                          \
                    return pool_op(in[0], pool_options({3, 3}, {1, 1}, PaddingMode::kExplicit, \
                                                       {1, 1, 1, 1}));                         \
                  }});                                                                         \
  KILN_OP_SAMPLE({.op = #pool_op,                                                              \
                  .variant = "3x2 window, stride (2, 1), VALID, odd sizes",                    \
                  .inputs = inputs_of({1, 7, 5, 2}),                                           \
                  .apply = [](const TensorList& in) {                                          \
                    return pool_op(in[0], pool_options({3, 2}, {2, 1}, PaddingMode::kValid));  \
                  }})

POOL_SAMPLES(max_pool2d, distinct_image);
POOL_SAMPLES(avg_pool2d, image);

KILN_OP_SAMPLE({.op = "adaptive_avg_pool2d",
                .variant = "even bins (4, 6) to (2, 3)",
                .inputs = image({2, 4, 6, 2}),
                .apply = [](const TensorList& in) { return adaptive_avg_pool2d(in[0], 2, 3); }});
KILN_OP_SAMPLE({.op = "adaptive_avg_pool2d",
                .variant = "uneven bins (5, 7) to (3, 4)",
                .inputs = image({2, 5, 7, 2}),
                .apply = [](const TensorList& in) { return adaptive_avg_pool2d(in[0], 3, 4); }});
KILN_OP_SAMPLE({.op = "adaptive_avg_pool2d",
                .variant = "global",
                .inputs = image({2, 3, 5, 3}),
                .apply = [](const TensorList& in) { return adaptive_avg_pool2d(in[0], 1, 1); }});
KILN_OP_SAMPLE({.op = "adaptive_avg_pool2d",
                .variant = "more bins than pixels (3, 2) to (4, 3)",
                .inputs = image({1, 3, 2, 2}),
                .apply = [](const TensorList& in) { return adaptive_avg_pool2d(in[0], 4, 3); }});

// Values, not just gradients.

TEST(Conv2d, SameEqualsItsExplicitPadding) {
  Generator g(1);
  Tensor x = random_tensor({2, 6, 7, 3}, DType::kF32, g),
         w = random_tensor({3, 3, 3, 4}, DType::kF32, g);
  // H: out 3, total (3 - 1) * 2 + 3 - 6 = 1 -> (0, 1); W: out 4, total 2 -> (1, 1).
  const Tensor same = conv2d(x, w, Tensor(), conv_options({2, 2}, PaddingMode::kSame));
  const Tensor expl =
      conv2d(x, w, Tensor(), conv_options({2, 2}, PaddingMode::kExplicit, {0, 1, 1, 1}));
  EXPECT_EQ(same.shape(), (Shape{2, 3, 4, 4}));
  EXPECT_EQ(to_vector(same), to_vector(expl));
}

TEST(Conv2d, OneByOneIsAMatmulOverChannels) {
  Generator g(2);
  Tensor x = random_tensor({2, 3, 4, 5}, DType::kF64, g),
         w = random_tensor({1, 1, 5, 6}, DType::kF64, g);
  Tensor b = random_tensor({6}, DType::kF64, g);
  const std::vector<double> got = to_vector(conv2d(x, w, b));
  const std::vector<double> want =
      to_vector(add(matmul(reshape(x, {24, 5}), reshape(w, {5, 6})), b));
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-12);
}

TEST(Conv2d, Bf16MatchesF32WithinRounding) {
  Generator g(3);
  Tensor x = to_dtype(random_tensor({2, 5, 5, 4}, DType::kF32, g), DType::kBF16);
  Tensor w = to_dtype(random_tensor({3, 3, 2, 6}, DType::kF32, g), DType::kBF16);
  Tensor b = to_dtype(random_tensor({6}, DType::kF32, g), DType::kBF16);
  x.set_requires_grad();
  w.set_requires_grad();
  b.set_requires_grad();
  const Conv2dOptions o = conv_options({1, 1}, PaddingMode::kSame, {}, {1, 1}, 2);
  Tensor y = conv2d(x, w, b, o);
  EXPECT_EQ(y.dtype(), DType::kBF16);
  sum(to_dtype(y, DType::kF32)).backward();
  Tensor x32 = to_dtype(x.detach(), DType::kF32).set_requires_grad();
  Tensor w32 = to_dtype(w.detach(), DType::kF32).set_requires_grad();
  Tensor b32 = to_dtype(b.detach(), DType::kF32).set_requires_grad();
  Tensor y32 = conv2d(x32, w32, b32, o);
  sum(y32).backward();
  auto expect_near = [](const Tensor& got, const Tensor& want, const char* what) {
    ASSERT_EQ(got.dtype(), DType::kBF16) << what;
    const std::vector<double> gv = to_vector(got), wv = to_vector(want);
    for (size_t i = 0; i < gv.size(); ++i) {
      ASSERT_NEAR(gv[i], wv[i], 1e-2 * (1 + std::abs(wv[i]))) << what << " element " << i;
    }
  };
  expect_near(y, y32, "y");
  expect_near(x.grad(), x32.grad(), "dx");
  expect_near(w.grad(), w32.grad(), "dw");
  expect_near(b.grad(), b32.grad(), "db");
}

// The second training step creates nothing: forward and backward primitives
// come from the plan the first step cached.
TEST(Conv2d, SecondStepReusesThePlan) {
  Generator g(4);
  Tensor x = random_tensor({1, 6, 6, 3}, DType::kF32, g);
  Tensor w = random_tensor({3, 3, 3, 5}, DType::kF32, g).set_requires_grad();
  const Conv2dOptions o = conv_options({1, 1}, PaddingMode::kSame);
  kernels::OnednnRuntime& runtime = Context::current().onednn();
  sum(conv2d(x, w, Tensor(), o)).backward();
  const std::vector<double> first = to_vector(w.grad());
  const int64_t misses = runtime.cache_stats().misses;
  w.zero_grad();
  sum(conv2d(x, w, Tensor(), o)).backward();
  EXPECT_EQ(runtime.cache_stats().misses, misses);
  EXPECT_EQ(to_vector(w.grad()), first);
}

TEST(Pooling, AvgSameExcludesPadding) {
  // (1, 2, 2, 1) with a 3x3 SAME window at stride 1: every window covers the
  // whole image, so every output is the mean of the 4 pixels.
  Tensor x = from_vector(std::vector<float>{1, 2, 3, 6}, {1, 2, 2, 1});
  const Tensor y = avg_pool2d(x, pool_options({3, 3}, {1, 1}, PaddingMode::kSame));
  EXPECT_EQ(to_vector(y), (std::vector<double>(4, 3.0)));
  const Tensor y64 =
      avg_pool2d(to_dtype(x, DType::kF64), pool_options({3, 3}, {1, 1}, PaddingMode::kSame));
  EXPECT_EQ(to_vector(y64), (std::vector<double>(4, 3.0)));
}

TEST(Pooling, MaxIgnoresPaddingAndRoutesTheGradient) {
  Tensor x = from_vector(std::vector<float>{-4, -3, -2, -1}, {1, 2, 2, 1}).set_requires_grad();
  Tensor y = max_pool2d(x, pool_options({2, 2}, {1, 1}, PaddingMode::kExplicit, {1, 0, 1, 0}));
  // Windows over padding see only negative real values: padding is not 0.
  EXPECT_EQ(to_vector(y), (std::vector<double>{-4, -3, -2, -1}));
  sum(y).backward();
  EXPECT_EQ(to_vector(x.grad()), (std::vector<double>{1, 1, 1, 1}));
}

TEST(Pooling, Bf16RunsAndMatchesF32) {
  Generator g(5);
  Tensor x32 = random_tensor({2, 6, 6, 3}, DType::kF32, g);
  Tensor x = to_dtype(x32, DType::kBF16).set_requires_grad();
  const Pool2dOptions o = pool_options({3, 3}, {2, 2}, PaddingMode::kSame);
  for (auto pool : {&max_pool2d, &avg_pool2d}) {
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

TEST(Pooling, AdaptiveUsesPyTorchBins) {
  // W = 5 to 3 bins: [0, 2), [1, 4), [3, 5).
  Tensor x = from_vector(std::vector<double>{1, 2, 3, 4, 5}, {1, 1, 5, 1}, DType::kF64);
  const std::vector<double> y = to_vector(adaptive_avg_pool2d(x, 1, 3));
  ASSERT_EQ(y.size(), 3u);
  EXPECT_NEAR(y[0], 1.5, 1e-12);
  EXPECT_NEAR(y[1], 3.0, 1e-12);
  EXPECT_NEAR(y[2], 4.5, 1e-12);
}

void expect_error(const std::function<void()>& f, const std::string& text) {
  try {
    f();
    FAIL() << "no exception, expected: " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Conv2d, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        conv2d(zeros({2, 5, 5, 3}), zeros({3, 3, 4, 8}), Tensor());
      },
      "conv2d: x (2, 5, 5, 3), weight (3, 3, 4, 8) with groups 1");
  expect_error(
      [] {
        conv2d(zeros({5, 5, 3}), zeros({3, 3, 3, 8}), Tensor());
      },
      "conv2d: needs x (N, H, W, C_in) and weight (KH, KW, C_in / groups, C_out), got x "
      "(5, 5, 3)");
  expect_error(
      [] {
        conv2d(zeros({1, 5, 5, 4}), zeros({3, 3, 2, 6}), Tensor(),
               conv_options({1, 1}, PaddingMode::kSame, {}, {1, 1}, 3));
      },
      "with groups 3");
  expect_error(
      [] {
        conv2d(zeros({1, 5, 5, 3}), zeros({3, 3, 3, 8}), zeros({7}));
      },
      "conv2d: bias (7,) does not match C_out 8 of weight (3, 3, 3, 8)");
  expect_error(
      [] {
        conv2d(zeros({1, 5, 5, 3}), zeros({3, 3, 3, 8}, DType::kF64), Tensor());
      },
      "conv2d: dtypes differ");
  expect_error(
      [] {
        conv2d(zeros({1, 5, 5, 3}, DType::kI32), zeros({3, 3, 3, 8}, DType::kI32), Tensor());
      },
      "conv2d: needs f32, bf16 or f64 tensors, got i32");
  expect_error(
      [] {
        conv2d(zeros({1, 2, 2, 3}), zeros({3, 3, 3, 8}), Tensor());
      },
      "conv2d: x (1, 2, 2, 3), weight (3, 3, 3, 8) gives an empty output");
  expect_error(
      [] {
        conv2d(zeros({1, 5, 5, 3}), zeros({3, 3, 3, 8}), Tensor(),
               conv_options({0, 1}, PaddingMode::kSame));
      },
      "conv2d: stride (0, 1) and dilation (1, 1) must be >= 1");
  expect_error(
      [] {
        conv2d(zeros({1, 5, 5, 3}), zeros({3, 3, 3, 8}), Tensor(),
               conv_options({1, 1}, PaddingMode::kExplicit, {-1, 0, 0, 0}));
      },
      "conv2d: negative padding (-1, 0, 0, 0)");
}

TEST(Pooling, BadArgumentsThrowNamingTheShapes) {
  expect_error(
      [] {
        max_pool2d(zeros({4, 4, 3}), pool_options({2, 2}, {2, 2}, PaddingMode::kValid));
      },
      "max_pool2d: needs x (N, H, W, C), got (4, 4, 3)");
  expect_error(
      [] {
        avg_pool2d(zeros({1, 4, 4, 3}),
                   pool_options({2, 2}, {2, 2}, PaddingMode::kExplicit, {2, 0, 0, 0}));
      },
      "avg_pool2d: padding (2, 0, 0, 0) must be >= 0 and smaller than the kernel (2, 2)");
  expect_error(
      [] {
        max_pool2d(zeros({1, 2, 2, 3}), pool_options({3, 3}, {1, 1}, PaddingMode::kValid));
      },
      "max_pool2d: x (1, 2, 2, 3) is smaller than the window (3, 3)");
  expect_error(
      [] {
        avg_pool2d(zeros({1, 4, 4, 3}, DType::kI64),
                   pool_options({2, 2}, {2, 2}, PaddingMode::kValid));
      },
      "avg_pool2d: needs an f32, bf16 or f64 tensor, got i64 of shape (1, 4, 4, 3)");
  expect_error(
      [] {
        max_pool2d(zeros({1, 4, 4, 3}), pool_options({2, 2}, {0, 2}, PaddingMode::kValid));
      },
      "max_pool2d: kernel (2, 2) and stride (0, 2) must be >= 1");
  expect_error(
      [] {
        adaptive_avg_pool2d(zeros({1, 4, 4, 3}), 0, 2);
      },
      "adaptive_avg_pool2d: cannot pool x (1, 4, 4, 3) to (0, 2)");
  expect_error(
      [] {
        adaptive_avg_pool2d(zeros({4, 4, 3}), 2, 2);
      },
      "adaptive_avg_pool2d: needs x (N, H, W, C), got (4, 4, 3)");
}

}  // namespace
}  // namespace kiln::testing
