// 3-D max and average pooling: the reference kernel against a naive
// pooling written here, then oneDNN (forward and backward, f32 and bf16)
// against the reference over windows, strides, SAME-style asymmetric
// padding, odd sizes, sizes 1 and empty batches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "kernels/onednn/runtime.h"
#include "kernels/pool.h"

namespace kiln::kernels {
namespace {

struct Case {
  int64_t n, d, h, w, c, kd, kh, kw, sd, sh, sw;
  int64_t pad[6];  // front, back, top, bottom, left, right
};

PoolDesc desc_of(const Case& c, PoolAlg alg, DType dtype) {
  PoolDesc d;
  d.spatial_dims = 3;
  d.n = c.n;
  d.depth = c.d;
  d.h = c.h;
  d.w = c.w;
  d.c = c.c;
  d.kd = c.kd;
  d.kh = c.kh;
  d.kw = c.kw;
  d.stride_d = c.sd;
  d.stride_h = c.sh;
  d.stride_w = c.sw;
  d.pad_front = c.pad[0];
  d.pad_back = c.pad[1];
  d.pad_top = c.pad[2];
  d.pad_bottom = c.pad[3];
  d.pad_left = c.pad[4];
  d.pad_right = c.pad[5];
  d.out_depth = (d.depth + d.pad_front + d.pad_back - d.kd) / d.stride_d + 1;
  d.out_h = (d.h + d.pad_top + d.pad_bottom - d.kh) / d.stride_h + 1;
  d.out_w = (d.w + d.pad_left + d.pad_right - d.kw) / d.stride_w + 1;
  d.alg = alg;
  d.dtype = dtype;
  return d;
}

std::vector<Case> cases() {
  return {
      {2, 4, 8, 8, 3, 2, 2, 2, 2, 2, 2, {0, 0, 0, 0, 0, 0}},   // 2x2x2/2 (DGMR's)
      {1, 5, 7, 9, 5, 3, 3, 3, 2, 2, 2, {1, 1, 1, 1, 1, 1}},   // 3x3x3/2 padded, odd
      {2, 4, 6, 6, 4, 3, 3, 3, 2, 2, 2, {0, 1, 0, 1, 0, 1}},   // SAME /2, even (asymmetric)
      {1, 3, 5, 7, 2, 3, 3, 3, 1, 1, 1, {1, 1, 1, 1, 1, 1}},   // SAME /1
      {2, 5, 9, 5, 3, 2, 3, 2, 1, 3, 1, {1, 0, 0, 0, 0, 1}},   // non-cubic window and stride
      {1, 3, 7, 7, 17, 3, 3, 3, 2, 2, 2, {0, 0, 0, 0, 0, 0}},  // VALID, channel tail
      {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, {0, 0, 0, 0, 0, 0}},   // sizes 1
      {3, 2, 4, 4, 8, 2, 4, 4, 2, 4, 4, {0, 0, 0, 0, 0, 0}},   // global
      {0, 4, 4, 4, 3, 2, 2, 2, 2, 2, 2, {0, 0, 0, 0, 0, 0}},   // empty batch
      {1, 3, 5, 5, 3, 3, 5, 5, 1, 1, 1, {1, 1, 2, 2, 2, 2}},   // windows mostly padding
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

// The definition: the max, or the mean, of each window's real elements.
std::vector<double> naive_forward(const PoolDesc& d, const std::vector<double>& x) {
  std::vector<double> y;
  for (int64_t n = 0; n < d.n; ++n)
    for (int64_t od = 0; od < d.out_depth; ++od)
      for (int64_t oh = 0; oh < d.out_h; ++oh)
        for (int64_t ow = 0; ow < d.out_w; ++ow)
          for (int64_t c = 0; c < d.c; ++c) {
            double best = -std::numeric_limits<double>::infinity(), sum = 0;
            int64_t count = 0;
            for (int64_t kd = 0; kd < d.kd; ++kd)
              for (int64_t kh = 0; kh < d.kh; ++kh)
                for (int64_t kw = 0; kw < d.kw; ++kw) {
                  const int64_t id = od * d.stride_d - d.pad_front + kd;
                  const int64_t ih = oh * d.stride_h - d.pad_top + kh;
                  const int64_t iw = ow * d.stride_w - d.pad_left + kw;
                  if (id < 0 || id >= d.depth || ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) {
                    continue;
                  }
                  const double v = x[(((n * d.depth + id) * d.h + ih) * d.w + iw) * d.c + c];
                  best = std::max(best, v);
                  sum += v;
                  ++count;
                }
            y.push_back(d.alg == PoolAlg::kMax ? best : sum / static_cast<double>(count));
          }
  return y;
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

TEST(Pool3dKernel, RefMatchesTheDefinition) {
  std::mt19937 rng(2);
  for (PoolAlg alg : {PoolAlg::kMax, PoolAlg::kAvg}) {
    for (const Case& c : cases()) {
      const PoolDesc d = desc_of(c, alg, DType::kF64);
      const std::string name = pool_desc_str(d);
      const std::vector<float> x = distinct_values(pool_src_numel(d), rng);
      const std::vector<float> dy = distinct_values(pool_dst_numel(d), rng);
      const Reference r = reference(d, x, dy);
      expect_close(r.dst, naive_forward(d, to_double(x)), 1e-12, "forward " + name);
      // Average pooling is linear, so its backward is its adjoint; max
      // pooling's backward hands each dy to an input equal to the output.
      const double y_dy = std::inner_product(r.dst.begin(), r.dst.end(), dy.begin(), 0.0);
      const double x_dx = std::inner_product(x.begin(), x.end(), r.diff_src.begin(), 0.0);
      EXPECT_NEAR(x_dx, y_dy, 1e-10) << name;
    }
  }
}

TEST(Pool3dKernel, OnednnF32MatchesReference) {
  OnednnRuntime runtime;
  std::mt19937 rng(9);
  for (PoolAlg alg : {PoolAlg::kMax, PoolAlg::kAvg}) {
    for (const Case& c : cases()) {
      const PoolDesc d = desc_of(c, alg, DType::kF32);
      const std::string name = pool_desc_str(d);
      const std::vector<float> x = distinct_values(pool_src_numel(d), rng);
      const std::vector<float> dy = distinct_values(pool_dst_numel(d), rng);
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
      EXPECT_EQ(onednn::pool_plan(runtime, d), plan);
    }
  }
}

TEST(Pool3dKernel, OnednnBf16MatchesReferenceOnRoundedInputs) {
  OnednnRuntime runtime;
  std::mt19937 rng(4);
  for (PoolAlg alg : {PoolAlg::kMax, PoolAlg::kAvg}) {
    for (const Case& c : {cases()[0], cases()[2], cases()[8]}) {
      const PoolDesc d = desc_of(c, alg, DType::kBF16);
      std::vector<float> x = distinct_values(pool_src_numel(d), rng);
      std::vector<float> dy = distinct_values(pool_dst_numel(d), rng);
      std::vector<uint16_t> x16(x.size()), dy16(dy.size()), y16(dy.size()), dx16(x.size());
      for (size_t i = 0; i < x.size(); ++i) {
        x[i] = BFloat16::to_float(x16[i] = BFloat16::from_float(x[i]));
      }
      for (size_t i = 0; i < dy.size(); ++i) {
        dy[i] = BFloat16::to_float(dy16[i] = BFloat16::from_float(dy[i]));
      }
      const Reference want = reference(d, x, dy);
      std::shared_ptr<onednn::PoolPlan> plan = onednn::pool_plan(runtime, d);
      std::vector<char> workspace(static_cast<size_t>(onednn::pool_workspace_bytes(*plan)));
      onednn::pool_forward(*plan, x16.data(), y16.data(), workspace.data());
      onednn::pool_backward(*plan, dy16.data(), workspace.data(), dx16.data());
      std::vector<double> y(y16.size()), dx(dx16.size());
      for (size_t i = 0; i < y.size(); ++i) y[i] = BFloat16::to_float(y16[i]);
      for (size_t i = 0; i < dx.size(); ++i) dx[i] = BFloat16::to_float(dx16[i]);
      // Rounding to bf16 may create ties: the forward max is the same value
      // either way; the max backward is checked in total.
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
