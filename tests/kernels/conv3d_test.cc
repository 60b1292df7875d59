// 3-D convolution: the reference kernel against a naive direct convolution
// written here (forward) and the adjoint identities (backward), then oneDNN
// (forward, backward data, backward weights; f32 and bf16) against the
// reference over strides, paddings (SAME-style asymmetric, explicit),
// dilations, groups, odd sizes, sizes 1 and empty shapes.
#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/conv.h"
#include "kernels/onednn/runtime.h"

namespace kiln::kernels {
namespace {

struct Case {
  int64_t n, d, h, w, c_in, kd, kh, kw, c_out, groups;
  int64_t stride[3], dilation[3];
  int64_t pad[6];  // front, back, top, bottom, left, right
  bool bias;
};

ConvDesc desc_of(const Case& c, DType dtype) {
  ConvDesc d;
  d.spatial_dims = 3;
  d.n = c.n;
  d.depth = c.d;
  d.h = c.h;
  d.w = c.w;
  d.c_in = c.c_in;
  d.kd = c.kd;
  d.kh = c.kh;
  d.kw = c.kw;
  d.c_out = c.c_out;
  d.groups = c.groups;
  d.stride_d = c.stride[0];
  d.stride_h = c.stride[1];
  d.stride_w = c.stride[2];
  d.dilation_d = c.dilation[0];
  d.dilation_h = c.dilation[1];
  d.dilation_w = c.dilation[2];
  d.pad_front = c.pad[0];
  d.pad_back = c.pad[1];
  d.pad_top = c.pad[2];
  d.pad_bottom = c.pad[3];
  d.pad_left = c.pad[4];
  d.pad_right = c.pad[5];
  d.out_depth = conv_out_size(d.depth, d.kd, d.stride_d, d.dilation_d, d.pad_front, d.pad_back);
  d.out_h = conv_out_size(d.h, d.kh, d.stride_h, d.dilation_h, d.pad_top, d.pad_bottom);
  d.out_w = conv_out_size(d.w, d.kw, d.stride_w, d.dilation_w, d.pad_left, d.pad_right);
  d.has_bias = c.bias;
  d.dtype = dtype;
  return d;
}

std::vector<Case> cases() {
  return {
      // n d  h  w cin kd kh kw cout g  stride     dilation   pad                 bias
      {2, 4, 5, 6, 3, 3, 3, 3, 4, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true},   // 3x3x3
      {1, 6, 6, 8, 2, 3, 3, 3, 5, 1, {2, 2, 2}, {1, 1, 1}, {0, 1, 0, 1, 0, 1}, true},   // SAME s2
      {1, 5, 7, 6, 4, 3, 3, 3, 6, 2, {1, 2, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, false},  // groups
      {1, 7, 6, 7, 3, 3, 2, 3, 2, 1, {1, 1, 2}, {2, 1, 2}, {2, 2, 0, 1, 2, 2}, true},   // dilated
      {2, 3, 4, 5, 5, 1, 1, 1, 7, 1, {1, 1, 1}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, true},   // 1x1x1
      {1, 5, 5, 4, 3, 2, 3, 3, 4, 1, {1, 1, 1}, {1, 1, 1}, {1, 0, 0, 2, 1, 1}, true},   // lopsided
      {2, 3, 9, 9, 6, 3, 3, 3, 6, 6, {1, 2, 2}, {1, 1, 1}, {1, 1, 0, 1, 0, 1}, true},   // depthwise
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, {1, 1, 1}, {1, 1, 1}, {0, 0, 0, 0, 0, 0}, true},   // sizes 1
      {1, 1, 2, 2, 2, 3, 3, 3, 3, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true},   // tiny
      {1, 4, 9, 9, 16, 3, 3, 3, 24, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true},  // blocked
      {0, 3, 4, 4, 3, 3, 3, 3, 4, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true},    // empty N
      {1, 3, 4, 4, 0, 3, 3, 3, 4, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true},    // no C_in
      {1, 3, 4, 4, 3, 3, 3, 3, 0, 1, {1, 1, 1}, {1, 1, 1}, {1, 1, 1, 1, 1, 1}, true},    // no C_out
  };
}

std::vector<float> random_values(int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  return std::inner_product(a.begin(), a.end(), b.begin(), 0.0);
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
  }
}

// The definition, one output element at a time: x (N, D, H, W, C_in),
// w (KD, KH, KW, C_in / G, C_out) -> (N, OD, OH, OW, C_out).
std::vector<double> naive_forward(const ConvDesc& d, const std::vector<double>& x,
                                  const std::vector<double>& w, const std::vector<double>& b) {
  const int64_t icg = d.c_in / d.groups, ocg = d.c_out / d.groups;
  std::vector<double> y(static_cast<size_t>(conv_dst_numel(d)));
  size_t at = 0;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t od = 0; od < d.out_depth; ++od)
      for (int64_t oh = 0; oh < d.out_h; ++oh)
        for (int64_t ow = 0; ow < d.out_w; ++ow)
          for (int64_t o = 0; o < d.c_out; ++o) {
            double s = d.has_bias ? b[o] : 0.0;
            const int64_t grp = o / ocg;
            for (int64_t kd = 0; kd < d.kd; ++kd)
              for (int64_t kh = 0; kh < d.kh; ++kh)
                for (int64_t kw = 0; kw < d.kw; ++kw) {
                  const int64_t id = od * d.stride_d - d.pad_front + kd * d.dilation_d;
                  const int64_t ih = oh * d.stride_h - d.pad_top + kh * d.dilation_h;
                  const int64_t iw = ow * d.stride_w - d.pad_left + kw * d.dilation_w;
                  if (id < 0 || id >= d.depth || ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) {
                    continue;
                  }
                  for (int64_t ic = 0; ic < icg; ++ic) {
                    const double xv =
                        x[(((n * d.depth + id) * d.h + ih) * d.w + iw) * d.c_in + grp * icg + ic];
                    s += xv * w[(((kd * d.kh + kh) * d.kw + kw) * icg + ic) * d.c_out + o];
                  }
                }
            y[at++] = s;
          }
  return y;
}

struct Reference {
  std::vector<double> dst, diff_src, diff_weights, diff_bias;
};
Reference reference(const ConvDesc& f, const std::vector<float>& x, const std::vector<float>& w,
                    const std::vector<float>& b, const std::vector<float>& dy) {
  ConvDesc d = f;
  d.dtype = DType::kF64;
  const std::vector<double> xd = to_double(x), wd = to_double(w), bd = to_double(b),
                            dyd = to_double(dy);
  Reference r{std::vector<double>(dy.size()), std::vector<double>(x.size()),
              std::vector<double>(w.size()), std::vector<double>(d.c_out)};
  ref::conv_forward(d, xd.data(), wd.data(), d.has_bias ? bd.data() : nullptr, r.dst.data());
  ref::conv_backward_data(d, dyd.data(), wd.data(), r.diff_src.data());
  ref::conv_backward_weights(d, xd.data(), dyd.data(), r.diff_weights.data(), r.diff_bias.data());
  return r;
}

struct Operands {
  std::vector<float> x, w, b, dy;
};
Operands random_operands(const ConvDesc& d, std::mt19937& rng) {
  return {random_values(conv_src_numel(d), rng), random_values(conv_weights_numel(d), rng),
          random_values(d.c_out, rng), random_values(conv_dst_numel(d), rng)};
}

TEST(Conv3dKernel, RefMatchesTheDefinitionAndItsAdjoints) {
  std::mt19937 rng(3);
  for (const Case& c : cases()) {
    const ConvDesc d = desc_of(c, DType::kF64);
    const std::string name = conv_desc_str(d);
    const Operands v = random_operands(d, rng);
    const Reference r = reference(d, v.x, v.w, v.b, v.dy);
    const std::vector<double> x = to_double(v.x), w = to_double(v.w), dy = to_double(v.dy);
    expect_close(r.dst, naive_forward(d, x, w, to_double(v.b)), 1e-12, "forward " + name);
    // Without bias the forward is bilinear: <conv(x, w), dy> equals
    // <x, backward_data(dy, w)> and <w, backward_weights(x, dy)>.
    ConvDesc nb = d;
    nb.has_bias = false;
    const double y_dy = dot(naive_forward(nb, x, w, {}), dy);
    EXPECT_NEAR(dot(x, r.diff_src), y_dy, 1e-10 * (1 + std::abs(y_dy))) << name;
    EXPECT_NEAR(dot(w, r.diff_weights), y_dy, 1e-10 * (1 + std::abs(y_dy))) << name;
    for (int64_t o = 0; o < d.c_out && c.bias; ++o) {
      double s = 0;
      for (size_t i = static_cast<size_t>(o); i < dy.size(); i += static_cast<size_t>(d.c_out)) {
        s += dy[i];
      }
      EXPECT_NEAR(r.diff_bias[o], s, 1e-12) << name;
    }
  }
}

TEST(Conv3dKernel, OnednnF32MatchesReference) {
  OnednnRuntime runtime;
  std::mt19937 rng(17);
  for (const Case& c : cases()) {
    const ConvDesc d = desc_of(c, DType::kF32);
    const std::string name = conv_desc_str(d);
    const Operands v = random_operands(d, rng);
    const Reference want = reference(d, v.x, v.w, v.b, v.dy);
    const double tol =
        1e-5 * std::sqrt(1.0 + c.kd * c.kh * c.kw * c.c_in + c.n * d.out_depth * d.out_h * d.out_w);
    std::shared_ptr<onednn::ConvPlan> plan = onednn::conv_plan(runtime, d);
    std::vector<float> y(v.dy.size(), NAN), dx(v.x.size(), NAN), dw(v.w.size(), NAN),
        db(d.c_out, NAN);
    onednn::conv_forward(*plan, v.x.data(), v.w.data(), c.bias ? v.b.data() : nullptr, y.data());
    expect_close(to_double(y), want.dst, tol, "forward " + name);
    onednn::conv_backward_data(*plan, v.dy.data(), v.w.data(), dx.data());
    expect_close(to_double(dx), want.diff_src, tol, "backward data " + name);
    onednn::conv_backward_weights(*plan, v.x.data(), v.dy.data(), dw.data(),
                                  c.bias ? db.data() : nullptr);
    expect_close(to_double(dw), want.diff_weights, tol, "backward weights " + name);
    if (c.bias) expect_close(to_double(db), want.diff_bias, tol, "backward bias " + name);
    EXPECT_EQ(onednn::conv_plan(runtime, d), plan);
  }
}

// A 3-D plan and the 2-D plan of the same numbers are different cache entries.
TEST(Conv3dKernel, DepthOnePlanIsNotTheConv2dPlan) {
  OnednnRuntime runtime;
  ConvDesc d3 = desc_of(cases()[4], DType::kF32);
  d3.depth = d3.out_depth = 1;
  ConvDesc d2 = d3;
  d2.spatial_dims = 2;
  EXPECT_NE(onednn::conv_plan(runtime, d3), onednn::conv_plan(runtime, d2));
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

TEST(Conv3dKernel, OnednnBf16MatchesReferenceOnRoundedInputs) {
  OnednnRuntime runtime;
  std::mt19937 rng(5);
  const std::vector<Case> all = cases();
  for (const Case& c : {all[0], all[2], all[5], all[10]}) {
    const ConvDesc d = desc_of(c, DType::kBF16);
    std::vector<uint16_t> x16, w16, b16, dy16;
    const Operands r = random_operands(d, rng);
    const std::vector<float> x = round_to_bf16(r.x, &x16), w = round_to_bf16(r.w, &w16),
                             b = round_to_bf16(r.b, &b16), dy = round_to_bf16(r.dy, &dy16);
    const Reference want = reference(d, x, w, b, dy);
    std::shared_ptr<onednn::ConvPlan> plan = onednn::conv_plan(runtime, d);
    std::vector<uint16_t> y(dy.size()), dx(x.size()), dw(w.size()), db(d.c_out);
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

}  // namespace
}  // namespace kiln::kernels
