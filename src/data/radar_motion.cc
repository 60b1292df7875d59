// Semi-Lagrangian advection and multi-scale Lucas-Kanade motion estimation
// on raw (H, W) planes.
#include "kiln/data/radar_motion.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kiln/core/error.h"
#include "src/data/radar_util.h"

namespace kiln::data {
namespace {

using Plane = std::vector<float>;

struct Level {
  int64_t h = 0, w = 0;
  std::vector<Plane> frames;  // (T) planes of (H, W)
};

// 2x2 averages (odd trailing rows and columns dropped).
Plane halve(const Plane& f, int64_t h, int64_t w) {
  const int64_t h2 = h / 2, w2 = w / 2;
  Plane out(static_cast<size_t>(h2 * w2));
  for (int64_t y = 0; y < h2; ++y) {
    for (int64_t x = 0; x < w2; ++x) {
      const float* r0 = f.data() + 2 * y * w + 2 * x;
      out[y * w2 + x] = 0.25f * (r0[0] + r0[1] + r0[w] + r0[w + 1]);
    }
  }
  return out;
}

// In-place sum over the (2r + 1)^2 window truncated at the edges, one
// channel of `c` interleaved channels, by running sums along rows then
// columns.
void box_sum(float* f, int64_t h, int64_t w, int64_t c, int64_t ch, int64_t r) {
  std::vector<double> prefix(static_cast<size_t>(std::max(h, w) + 1));
  auto pass = [&](int64_t n, int64_t lines, auto index) {
    for (int64_t line = 0; line < lines; ++line) {
      prefix[0] = 0;
      for (int64_t i = 0; i < n; ++i) prefix[i + 1] = prefix[i] + f[index(line, i) * c + ch];
      for (int64_t i = 0; i < n; ++i) {
        const int64_t lo = std::max<int64_t>(0, i - r), hi = std::min(n, i + r + 1);
        f[index(line, i) * c + ch] = static_cast<float>(prefix[hi] - prefix[lo]);
      }
    }
  };
  pass(w, h, [w](int64_t y, int64_t x) { return y * w + x; });
  pass(h, w, [w](int64_t x, int64_t y) { return y * w + x; });
}

// Motion (H, W, 2) smoothed by box averages weighted by confidence (H, W):
// motion spreads from textured (rainy) areas into flat (dry) ones.
void weighted_smooth(Plane& motion, const Plane& weight, int64_t h, int64_t w, int64_t r) {
  Plane acc(static_cast<size_t>(h * w * 3));
  for (int64_t i = 0; i < h * w; ++i) {
    const float wt = weight[i] + 1e-6f;
    acc[3 * i] = wt * motion[2 * i];
    acc[3 * i + 1] = wt * motion[2 * i + 1];
    acc[3 * i + 2] = wt;
  }
  for (int64_t ch = 0; ch < 3; ++ch) box_sum(acc.data(), h, w, 3, ch, r);
  for (int64_t i = 0; i < h * w; ++i) {
    motion[2 * i] = acc[3 * i] / acc[3 * i + 2];
    motion[2 * i + 1] = acc[3 * i + 1] / acc[3 * i + 2];
  }
}

// Motion (H, W, 2) on a grid twice as large (h2, w2), values doubled.
Plane upsample_motion(const Plane& v, int64_t h, int64_t w, int64_t h2, int64_t w2) {
  Plane dy(static_cast<size_t>(h * w)), dx(static_cast<size_t>(h * w));
  for (int64_t i = 0; i < h * w; ++i) {
    dy[i] = v[2 * i];
    dx[i] = v[2 * i + 1];
  }
  Plane out(static_cast<size_t>(h2 * w2 * 2));
  for (int64_t y = 0; y < h2; ++y) {
    for (int64_t x = 0; x < w2; ++x) {
      const double sy = (y + 0.5) / 2 - 0.5, sx = (x + 0.5) / 2 - 0.5;
      const int64_t i = y * w2 + x;
      out[2 * i] = 2 * detail::sample_bilinear(dy.data(), h, w, sy, sx, Boundary::kClamp);
      out[2 * i + 1] = 2 * detail::sample_bilinear(dx.data(), h, w, sy, sx, Boundary::kClamp);
    }
  }
  return out;
}

// Lucas-Kanade refinements of `v` (H, W, 2) at one level; returns the
// confidence (gradient energy in the window) per pixel.
Plane refine(const Level& level, Plane& v, const MotionEstimateOptions& o) {
  const int64_t h = level.h, w = level.w, n = h * w;
  const int64_t r = o.window / 2;
  Plane sums(static_cast<size_t>(n * 5));  // Ixx, Ixy, Iyy, Ixt, Iyt
  Plane warped(static_cast<size_t>(n));
  for (int64_t it = 0; it < o.iterations; ++it) {
    std::fill(sums.begin(), sums.end(), 0.0f);
    for (size_t k = 0; k + 1 < level.frames.size(); ++k) {
      const Plane& next = level.frames[k + 1];
      detail::warp_backward(level.frames[k].data(), v.data(), warped.data(), h, w,
                            Boundary::kClamp);
      for (int64_t y = 0; y < h; ++y) {
        const int64_t yu = std::max<int64_t>(y - 1, 0), yd = std::min(y + 1, h - 1);
        for (int64_t x = 0; x < w; ++x) {
          const int64_t xl = std::max<int64_t>(x - 1, 0), xr = std::min(x + 1, w - 1);
          // Gradients of the mean of the warped and the next frame.
          const float gx = 0.25f * (warped[y * w + xr] - warped[y * w + xl] + next[y * w + xr] -
                                    next[y * w + xl]);
          const float gy = 0.25f * (warped[yd * w + x] - warped[yu * w + x] + next[yd * w + x] -
                                    next[yu * w + x]);
          const float gt = next[y * w + x] - warped[y * w + x];
          float* s = sums.data() + 5 * (y * w + x);
          s[0] += gx * gx;
          s[1] += gx * gy;
          s[2] += gy * gy;
          s[3] += gx * gt;
          s[4] += gy * gt;
        }
      }
    }
    for (int64_t ch = 0; ch < 5; ++ch) box_sum(sums.data(), h, w, 5, ch, r);
    for (int64_t i = 0; i < n; ++i) {
      const float* s = sums.data() + 5 * i;
      const double a = s[0] + o.regularization, b = s[1], d = s[2] + o.regularization;
      const double det = a * d - b * b;
      // (dx, dy) = -A^-1 (Ixt, Iyt), a step of at most 2 pixels.
      const double ux = -(d * s[3] - b * s[4]) / det;
      const double uy = -(a * s[4] - b * s[3]) / det;
      v[2 * i] += static_cast<float>(std::clamp(uy, -2.0, 2.0));
      v[2 * i + 1] += static_cast<float>(std::clamp(ux, -2.0, 2.0));
    }
  }
  Plane confidence(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) confidence[i] = sums[5 * i] + sums[5 * i + 2];
  return confidence;
}

void check_motion(const Tensor& motion, int64_t h, int64_t w, const char* op) {
  KILN_CHECK(
      motion.defined() && motion.dtype() == DType::kF32 && motion.shape() == Shape({h, w, 2}), op,
      ": expects a (", h, ", ", w, ", 2) f32 motion, got ",
      motion.defined() ? shape_str(motion.shape()) : "undefined");
}

}  // namespace

Tensor advect(const Tensor& frame, const Tensor& motion, int64_t steps, Boundary boundary) {
  KILN_CHECK(frame.defined() && frame.dim() == 2 && frame.dtype() == DType::kF32,
             "advect: expects an (H, W) f32 frame, got ",
             frame.defined() ? shape_str(frame.shape()) : "undefined");
  KILN_CHECK(steps >= 0, "advect: steps must be >= 0, got ", steps);
  const int64_t h = frame.size(0), w = frame.size(1);
  check_motion(motion, h, w, "advect");
  const Tensor f = as_contiguous(frame);      // (H, W)
  const Tensor v = as_contiguous(motion);     // (H, W, 2)
  Tensor out = Tensor::empty({steps, h, w});  // (steps, H, W)
  Plane d(static_cast<size_t>(h * w * 2), 0.0f), next(d.size());
  for (int64_t t = 0; t < steps; ++t) {
    detail::compose_displacement(d.data(), v.data<float>(), next.data(), h, w, boundary);
    d.swap(next);
    detail::warp_backward(f.data<float>(), d.data(), out.data<float>() + t * h * w, h, w, boundary);
  }
  return out;
}

Tensor estimate_motion(const Tensor& frames, const MotionEstimateOptions& o) {
  KILN_CHECK(
      frames.defined() && frames.dim() == 3 && frames.size(0) >= 2 && frames.dtype() == DType::kF32,
      "estimate_motion: expects (T >= 2, H, W) f32 frames, got ",
      frames.defined() ? shape_str(frames.shape()) : "undefined");
  KILN_CHECK(o.window >= 1 && o.window % 2 == 1 && o.min_size >= 2 && o.iterations >= 1 &&
                 o.regularization > 0 && o.smoothing >= 0,
             "estimate_motion: invalid options: window ", o.window, ", min_size ", o.min_size,
             ", iterations ", o.iterations, ", regularization ", o.regularization, ", smoothing ",
             o.smoothing);
  const Tensor src = as_contiguous(frames);  // (T, H, W)
  const int64_t t = frames.size(0), h = frames.size(1), w = frames.size(2);
  // The pyramid of log(1 + rate): heavy tails would let a few pixels
  // dominate the normal equations.
  std::vector<Level> pyramid(1);
  pyramid[0] = {h, w, {}};
  for (int64_t k = 0; k < t; ++k) {
    const float* f = src.data<float>() + k * h * w;
    Plane p(static_cast<size_t>(h * w));
    for (int64_t i = 0; i < h * w; ++i) p[i] = std::log1p(std::max(f[i], 0.0f));
    pyramid[0].frames.push_back(std::move(p));
  }
  while (std::min(pyramid.back().h, pyramid.back().w) / 2 >= o.min_size) {
    const Level& fine = pyramid.back();
    Level coarse{fine.h / 2, fine.w / 2, {}};
    for (const Plane& p : fine.frames) coarse.frames.push_back(halve(p, fine.h, fine.w));
    pyramid.push_back(std::move(coarse));
  }
  const int64_t smoothing =
      o.smoothing > 0 ? o.smoothing : std::max<int64_t>(1, std::max(h, w) / 8);
  Plane v;
  for (int64_t l = static_cast<int64_t>(pyramid.size()) - 1; l >= 0; --l) {
    const Level& level = pyramid[l];
    if (v.empty()) {
      v.assign(static_cast<size_t>(level.h * level.w * 2), 0.0f);
    } else {
      const Level& coarse = pyramid[l + 1];
      v = upsample_motion(v, coarse.h, coarse.w, level.h, level.w);
    }
    const Plane confidence = refine(level, v, o);
    weighted_smooth(v, confidence, level.h, level.w, std::max<int64_t>(1, smoothing >> l));
  }
  return from_vector(v, {h, w, 2});
}

}  // namespace kiln::data
