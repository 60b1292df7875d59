// oneDNN max and average pooling (forward and backward, f32 and bf16)
// against the reference kernel, over windows, strides, SAME-style
// asymmetric padding, odd sizes, sizes 1 and empty batches.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "kernels/onednn/runtime.h"
#include "kernels/pool.h"

namespace kiln::kernels {
namespace {

struct Case {
  int64_t n, h, w, c, kh, kw, sh, sw;
  int64_t pad[4];  // top, bottom, left, right
};

PoolDesc desc_of(const Case& c, PoolAlg alg, DType dtype) {
  PoolDesc d;
  d.n = c.n;
  d.h = c.h;
  d.w = c.w;
  d.c = c.c;
  d.kh = c.kh;
  d.kw = c.kw;
  d.stride_h = c.sh;
  d.stride_w = c.sw;
  d.pad_top = c.pad[0];
  d.pad_bottom = c.pad[1];
  d.pad_left = c.pad[2];
  d.pad_right = c.pad[3];
  d.out_h = (d.h + d.pad_top + d.pad_bottom - d.kh) / d.stride_h + 1;
  d.out_w = (d.w + d.pad_left + d.pad_right - d.kw) / d.stride_w + 1;
  d.alg = alg;
  d.dtype = dtype;
  return d;
}

std::vector<Case> cases() {
  return {
      {2, 8, 8, 3, 2, 2, 2, 2, {0, 0, 0, 0}},   // 2x2/2
      {1, 7, 9, 5, 3, 3, 2, 2, {1, 1, 1, 1}},   // 3x3/2 padded, odd
      {2, 6, 6, 4, 3, 3, 2, 2, {0, 1, 0, 1}},   // SAME 3x3/2, even input (asymmetric)
      {1, 5, 7, 2, 3, 3, 1, 1, {1, 1, 1, 1}},   // SAME 3x3/1
      {2, 9, 5, 3, 3, 2, 3, 1, {0, 0, 0, 1}},   // non-square window and stride
      {1, 7, 7, 17, 3, 3, 2, 2, {0, 0, 0, 0}},  // VALID, channel tail
      {1, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0}},   // sizes 1
      {3, 4, 4, 8, 4, 4, 4, 4, {0, 0, 0, 0}},   // global
      {0, 4, 4, 3, 2, 2, 2, 2, {0, 0, 0, 0}},   // empty batch
      {1, 5, 5, 3, 5, 5, 1, 1, {2, 2, 2, 2}},   // pad = kernel - 3, windows mostly padding
  };
}

std::vector<float> distinct_values(int64_t n, std::mt19937& rng) {
  // A shuffled ramp: no ties, so the argmax is unique.
  std::vector<float> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>(i) / static_cast<float>(n + 1) - 0.5f;
  std::shuffle(v.begin(), v.end(), rng);
  return v;
}

std::vector<double> to_double(const std::vector<float>& v) { return {v.begin(), v.end()}; }

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_NEAR(got[i], want[i], tol * (1.0 + std::abs(want[i]))) << what << " element " << i;
  }
}

struct Reference {
  std::vector<double> dst, diff_src;
};
Reference reference(PoolDesc d, const std::vector<float>& x, const std::vector<float>& dy) {
  d.dtype = DType::kF64;
  const std::vector<double> xd = to_double(x), dyd = to_double(dy);
  Reference r{std::vector<double>(dy.size()), std::vector<double>(x.size())};
  std::vector<int32_t> argmax(dy.size());
  ref::pool_forward(d, xd.data(), r.dst.data(), argmax.data());
  ref::pool_backward(d, dyd.data(), argmax.data(), r.diff_src.data());
  return r;
}

TEST(PoolKernel, OnednnF32MatchesReference) {
  OnednnRuntime runtime;
  std::mt19937 rng(9);
  for (PoolAlg alg : {PoolAlg::kMax, PoolAlg::kAvg}) {
    for (const Case& c : cases()) {
      const PoolDesc d = desc_of(c, alg, DType::kF32);
      const std::string name = pool_desc_str(d);
      const std::vector<float> x = distinct_values(d.n * d.h * d.w * d.c, rng);
      const std::vector<float> dy = distinct_values(d.n * d.out_h * d.out_w * d.c, rng);
      const Reference want = reference(d, x, dy);
      std::shared_ptr<onednn::PoolPlan> plan = onednn::pool_plan(runtime, d);
      const int64_t ws = onednn::pool_workspace_bytes(*plan);
      if (alg == PoolAlg::kAvg) {
        EXPECT_EQ(ws, 0) << name;
      }
      std::vector<char> workspace(static_cast<size_t>(ws));
      std::vector<float> y(dy.size(), NAN), dx(x.size(), NAN);
      onednn::pool_forward(*plan, x.data(), y.data(), workspace.data());
      expect_close(to_double(y), want.dst, 1e-6, "forward " + name);
      onednn::pool_backward(*plan, dy.data(), workspace.data(), dx.data());
      expect_close(to_double(dx), want.diff_src, 1e-6, "backward " + name);
    }
  }
}

TEST(PoolKernel, RefMaxRecordsTheFirstMaximum) {
  PoolDesc d = desc_of({1, 2, 2, 1, 2, 2, 2, 2, {0, 0, 0, 0}}, PoolAlg::kMax, DType::kF64);
  const std::vector<double> x = {1, 3, 3, 2};
  std::vector<double> y(1), dx(4);
  std::vector<int32_t> argmax(1);
  ref::pool_forward(d, x.data(), y.data(), argmax.data());
  EXPECT_EQ(y[0], 3);
  EXPECT_EQ(argmax[0], 1);
  const std::vector<double> dy = {5};
  ref::pool_backward(d, dy.data(), argmax.data(), dx.data());
  EXPECT_EQ(dx, (std::vector<double>{0, 5, 0, 0}));
}

TEST(PoolKernel, RefAvgExcludesPadding) {
  // 3x3 window with stride 1 and padding 1 on a 2x2 image: every window
  // holds the whole image (count 4), never the 9 of the window.
  PoolDesc d = desc_of({1, 2, 2, 1, 3, 3, 1, 1, {1, 1, 1, 1}}, PoolAlg::kAvg, DType::kF64);
  const std::vector<double> x = {1, 2, 3, 6};
  std::vector<double> y(4);
  ref::pool_forward(d, x.data(), y.data(), static_cast<int32_t*>(nullptr));
  EXPECT_EQ(y, (std::vector<double>(4, 3.0)));
}

TEST(PoolKernel, OnednnBf16MatchesReferenceOnRoundedInputs) {
  OnednnRuntime runtime;
  std::mt19937 rng(4);
  for (PoolAlg alg : {PoolAlg::kMax, PoolAlg::kAvg}) {
    for (const Case& c : {cases()[1], cases()[2], cases()[8]}) {
      const PoolDesc d = desc_of(c, alg, DType::kBF16);
      std::vector<float> x = distinct_values(d.n * d.h * d.w * d.c, rng);
      std::vector<float> dy = distinct_values(d.n * d.out_h * d.out_w * d.c, rng);
      std::vector<uint16_t> x16(x.size()), dy16(dy.size()), y16(dy.size()), dx16(x.size());
      for (size_t i = 0; i < x.size(); ++i)
        x[i] = BFloat16::to_float(x16[i] = BFloat16::from_float(x[i]));
      for (size_t i = 0; i < dy.size(); ++i)
        dy[i] = BFloat16::to_float(dy16[i] = BFloat16::from_float(dy[i]));
      const Reference want = reference(d, x, dy);
      std::shared_ptr<onednn::PoolPlan> plan = onednn::pool_plan(runtime, d);
      std::vector<char> workspace(static_cast<size_t>(onednn::pool_workspace_bytes(*plan)));
      onednn::pool_forward(*plan, x16.data(), y16.data(), workspace.data());
      onednn::pool_backward(*plan, dy16.data(), workspace.data(), dx16.data());
      std::vector<double> y(y16.size()), dx(dx16.size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = BFloat16::to_float(y16[i]);
      for (size_t i = 0; i < dx.size(); ++i) dx[i] = BFloat16::to_float(dx16[i]);
      // Rounded bf16 inputs ties may appear: the forward max is the same
      // value either way; the backward is checked in total per image.
      const std::string name = pool_desc_str(d);
      expect_close(y, want.dst, 1.0 / 128, "forward " + name);
      if (alg == PoolAlg::kAvg) expect_close(dx, want.diff_src, 1.0 / 128, "backward " + name);
      double got_total = 0, want_total = 0;
      for (size_t i = 0; i < dx.size(); ++i) got_total += dx[i], want_total += want.diff_src[i];
      EXPECT_NEAR(got_total, want_total, 0.05) << name;
    }
  }
}

}  // namespace
}  // namespace kiln::kernels
