// oneDNN convolution (forward, backward data, backward weights; f32 and
// bf16) against the reference direct convolution over a sweep of groups,
// strides, paddings (SAME-style asymmetric, VALID, explicit), dilations,
// kernel shapes, odd sizes, batch 1 and empty shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/conv.h"
#include "kernels/onednn/runtime.h"

namespace kiln::kernels {
namespace {

struct Case {
  int64_t n, h, w, c_in, kh, kw, c_out, groups;
  int64_t stride_h, stride_w, dilation;
  int64_t pad[4];  // top, bottom, left, right
  bool bias;
};

ConvDesc desc_of(const Case& c, DType dtype) {
  ConvDesc d;
  d.n = c.n;
  d.h = c.h;
  d.w = c.w;
  d.c_in = c.c_in;
  d.kh = c.kh;
  d.kw = c.kw;
  d.c_out = c.c_out;
  d.groups = c.groups;
  d.stride_h = c.stride_h;
  d.stride_w = c.stride_w;
  d.dilation_h = d.dilation_w = c.dilation;
  d.pad_top = c.pad[0];
  d.pad_bottom = c.pad[1];
  d.pad_left = c.pad[2];
  d.pad_right = c.pad[3];
  d.out_h = conv_out_size(d.h, d.kh, d.stride_h, d.dilation_h, d.pad_top, d.pad_bottom);
  d.out_w = conv_out_size(d.w, d.kw, d.stride_w, d.dilation_w, d.pad_left, d.pad_right);
  d.has_bias = c.bias;
  d.dtype = dtype;
  return d;
}

std::vector<Case> cases() {
  return {
      // n  h  w  cin kh kw cout g  sh sw dil  pad           bias
      {2, 7, 9, 3, 3, 3, 5, 1, 1, 1, 1, {1, 1, 1, 1}, true},      // 3x3 explicit
      {1, 8, 8, 4, 3, 3, 6, 1, 2, 2, 1, {0, 1, 0, 1}, true},      // SAME, stride 2 (asymmetric)
      {3, 6, 5, 4, 3, 3, 4, 2, 1, 1, 1, {1, 1, 1, 1}, false},     // groups 2
      {1, 9, 7, 6, 3, 3, 6, 6, 1, 1, 1, {1, 1, 1, 1}, true},      // depthwise
      {2, 9, 7, 4, 3, 3, 8, 4, 2, 2, 1, {1, 1, 1, 1}, true},      // depthwise, multiplier 2
      {1, 11, 10, 3, 3, 3, 4, 1, 1, 1, 2, {2, 2, 2, 2}, true},    // dilation 2 SAME
      {2, 11, 9, 5, 3, 3, 3, 1, 2, 1, 2, {0, 0, 0, 0}, false},    // dilation 2 VALID
      {2, 5, 6, 7, 1, 1, 9, 1, 1, 1, 1, {0, 0, 0, 0}, true},      // 1x1
      {1, 7, 6, 8, 1, 1, 4, 1, 2, 2, 1, {0, 0, 0, 0}, false},     // 1x1 stride 2 (odd)
      {2, 9, 11, 3, 5, 5, 4, 1, 1, 1, 1, {2, 2, 2, 2}, true},     // 5x5 SAME
      {1, 10, 9, 4, 5, 5, 2, 1, 2, 2, 1, {1, 2, 1, 2}, true},     // 5x5 SAME stride 2
      {2, 7, 8, 3, 3, 1, 5, 1, 1, 1, 1, {1, 1, 0, 0}, true},      // 3x1
      {1, 6, 9, 2, 1, 5, 3, 1, 1, 2, 1, {0, 0, 2, 2}, false},     // 1x5, stride (1, 2)
      {2, 7, 7, 4, 2, 3, 6, 2, 2, 1, 1, {0, 1, 1, 1}, true},      // 2x3 groups 2
      {1, 13, 11, 3, 3, 3, 5, 1, 2, 2, 1, {0, 0, 0, 0}, true},    // VALID stride 2, odd
      {1, 5, 4, 3, 3, 3, 2, 1, 1, 1, 1, {2, 0, 0, 3}, true},      // lopsided explicit
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}, true},      // all sizes 1
      {1, 1, 1, 2, 3, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, true},      // 1x1 image, 3x3 kernel
      {0, 5, 5, 3, 3, 3, 4, 1, 1, 1, 1, {1, 1, 1, 1}, true},      // empty batch
      {2, 4, 4, 0, 3, 3, 4, 1, 1, 1, 1, {1, 1, 1, 1}, true},      // no input channels
      {2, 4, 4, 3, 3, 3, 0, 1, 1, 1, 1, {1, 1, 1, 1}, true},      // no output channels
      {1, 17, 17, 16, 3, 3, 24, 1, 1, 1, 1, {1, 1, 1, 1}, true},  // blocked channels + tails
      {2, 9, 9, 32, 3, 3, 32, 32, 2, 2, 1, {0, 1, 0, 1}, true},   // depthwise 32, SAME s2
  };
}

std::vector<float> random_values(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

struct Sizes {
  int64_t src, weights, dst;
};
Sizes sizes_of(const ConvDesc& d) {
  return {d.n * d.h * d.w * d.c_in, d.kh * d.kw * (d.c_in / d.groups) * d.c_out,
          d.n * d.out_h * d.out_w * d.c_out};
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
  }
}

// The three passes in double through the reference.
struct Reference {
  std::vector<double> dst, diff_src, diff_weights, diff_bias;
};
Reference reference(const ConvDesc& f, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& b, const std::vector<float>& dy) {
  ConvDesc d = f;
  d.dtype = DType::kF64;
  const Sizes s = sizes_of(d);
  const std::vector<double> xd = to_double(x), wd = to_double(w), bd = to_double(b),
                            dyd = to_double(dy);
  Reference r{std::vector<double>(s.dst), std::vector<double>(s.src),
              std::vector<double>(s.weights), std::vector<double>(d.c_out)};
  ref::conv_forward(d, xd.data(), wd.data(), d.has_bias ? bd.data() : nullptr, r.dst.data());
  ref::conv_backward_data(d, dyd.data(), wd.data(), r.diff_src.data());
  ref::conv_backward_weights(d, xd.data(), dyd.data(), r.diff_weights.data(), r.diff_bias.data());
  return r;
}

TEST(ConvKernel, OnednnF32MatchesReference) {
  OnednnRuntime runtime;
  std::mt19937 rng(17);
  for (const Case& c : cases()) {
    const ConvDesc d = desc_of(c, DType::kF32);
    const std::string name = conv_desc_str(d);
    ASSERT_GE(d.out_h, 1) << name;
    const Sizes s = sizes_of(d);
    const std::vector<float> x = random_values(s.src, rng), w = random_values(s.weights, rng),
                             b = random_values(d.c_out, rng), dy = random_values(s.dst, rng);
    const Reference want = reference(d, x, w, b, dy);
    const double tol = 1e-5 * std::sqrt(1.0 + c.kh * c.kw * c.c_in + c.n * d.out_h * d.out_w);

    std::shared_ptr<onednn::ConvPlan> plan = onednn::conv_plan(runtime, d);
    std::vector<float> y(s.dst, NAN), dx(s.src, NAN), dw(s.weights, NAN), db(d.c_out, NAN);
    onednn::conv_forward(*plan, x.data(), w.data(), c.bias ? b.data() : nullptr, y.data());
    expect_close(to_double(y), want.dst, tol, "forward " + name);
    onednn::conv_backward_data(*plan, dy.data(), w.data(), dx.data());
    expect_close(to_double(dx), want.diff_src, tol, "backward data " + name);
    onednn::conv_backward_weights(*plan, x.data(), dy.data(), dw.data(),
                                  c.bias ? db.data() : nullptr);
    expect_close(to_double(dw), want.diff_weights, tol, "backward weights " + name);
    if (c.bias) expect_close(to_double(db), want.diff_bias, tol, "backward bias " + name);
    // The same plan comes back from the cache.
    EXPECT_EQ(onednn::conv_plan(runtime, d), plan);
  }
}

TEST(ConvKernel, RefF32MatchesRefF64) {
  std::mt19937 rng(2);
  const ConvDesc d = desc_of(cases()[4], DType::kF32);
  const Sizes s = sizes_of(d);
  const std::vector<float> x = random_values(s.src, rng), w = random_values(s.weights, rng),
                           b = random_values(d.c_out, rng), dy = random_values(s.dst, rng);
  const Reference want = reference(d, x, w, b, dy);
  std::vector<float> y(s.dst), dx(s.src), dw(s.weights), db(d.c_out);
  ref::conv_forward(d, x.data(), w.data(), b.data(), y.data());
  ref::conv_backward_data(d, dy.data(), w.data(), dx.data());
  ref::conv_backward_weights(d, x.data(), dy.data(), dw.data(), db.data());
  expect_close(to_double(y), want.dst, 1e-6, "forward");
  expect_close(to_double(dx), want.diff_src, 1e-6, "backward data");
  expect_close(to_double(dw), want.diff_weights, 1e-6, "backward weights");
  expect_close(to_double(db), want.diff_bias, 1e-6, "backward bias");
}

// A 1x1 convolution is a matrix product: pins the reference's HWIO indexing.
TEST(ConvKernel, RefOneByOneIsAMatrixProduct) {
  ConvDesc d = desc_of({1, 1, 2, 3, 1, 1, 2, 1, 1, 1, 1, {0, 0, 0, 0}, false}, DType::kF64);
  const std::vector<double> x = {1, 2, 3, 4, 5, 6};   // (1, 1, 2, 3)
  const std::vector<double> w = {1, 0, 0, 1, 1, -1};  // (1, 1, 3, 2)
  std::vector<double> y(4);
  ref::conv_forward(d, x.data(), w.data(), static_cast<const double*>(nullptr), y.data());
  EXPECT_EQ(y, (std::vector<double>{4, -1, 10, -1}));
}

std::vector<float> round_to_bf16(std::vector<float> v, std::vector<uint16_t>* bits) {
  bits->resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    (*bits)[i] = BFloat16::from_float(v[i]);
    v[i] = BFloat16::to_float((*bits)[i]);
  }
  return v;
}

std::vector<double> from_bf16(const std::vector<uint16_t>& bits) {
  std::vector<double> out(bits.size());
  for (size_t i = 0; i < bits.size(); ++i) out[i] = BFloat16::to_float(bits[i]);
  return out;
}

TEST(ConvKernel, OnednnBf16MatchesReferenceOnRoundedInputs) {
  OnednnRuntime runtime;
  std::mt19937 rng(5);
  const std::vector<Case> all = cases();
  for (const Case& c : {all[0], all[2], all[4], all[10], all[18]}) {
    const ConvDesc d = desc_of(c, DType::kBF16);
    const Sizes s = sizes_of(d);
    std::vector<uint16_t> x16, w16, b16, dy16;
    const std::vector<float> x = round_to_bf16(random_values(s.src, rng), &x16);
    const std::vector<float> w = round_to_bf16(random_values(s.weights, rng), &w16);
    const std::vector<float> b = round_to_bf16(random_values(d.c_out, rng), &b16);
    const std::vector<float> dy = round_to_bf16(random_values(s.dst, rng), &dy16);
    const Reference want = reference(d, x, w, b, dy);
    std::shared_ptr<onednn::ConvPlan> plan = onednn::conv_plan(runtime, d);
    std::vector<uint16_t> y(s.dst), dx(s.src), dw(s.weights), db(d.c_out);
    onednn::conv_forward(*plan, x16.data(), w16.data(), c.bias ? b16.data() : nullptr, y.data());
    onednn::conv_backward_data(*plan, dy16.data(), w16.data(), dx.data());
    onednn::conv_backward_weights(*plan, x16.data(), dy16.data(), dw.data(),
                                  c.bias ? db.data() : nullptr);
    // f32 accumulation, one bf16 rounding of each result.
    const std::string name = conv_desc_str(d);
    expect_close(from_bf16(y), want.dst, 1.0 / 128, "forward " + name);
    expect_close(from_bf16(dx), want.diff_src, 1.0 / 128, "backward data " + name);
    expect_close(from_bf16(dw), want.diff_weights, 1.0 / 128, "backward weights " + name);
    if (c.bias) expect_close(from_bf16(db), want.diff_bias, 1.0 / 128, "backward bias " + name);
  }
}

TEST(ConvKernel, OutSizeFloors) {
  EXPECT_EQ(conv_out_size(7, 3, 2, 1, 0, 0), 3);
  EXPECT_EQ(conv_out_size(8, 3, 2, 1, 0, 1), 4);
  EXPECT_EQ(conv_out_size(5, 3, 1, 2, 0, 0), 1);
  EXPECT_EQ(conv_out_size(2, 3, 1, 2, 0, 0), -2);
}

}  // namespace
}  // namespace kiln::kernels
