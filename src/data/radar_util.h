// Grid helpers shared by the radar generator, the advection nowcast and the
// power spectrum: 2-D FFTs and semi-Lagrangian backward advection on raw
// row-major buffers. Internal to the data layer (Eigen stays in the .cc).
#pragma once

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstdint>
#include <vector>

#include "kiln/data/radar_motion.h"

namespace kiln::data::detail {

// In-place 2-D DFT of a row-major (H, W) grid: rows, then columns (Eigen's
// kissfft backend, in double). The inverse includes the 1 / (H W) factor.
void fft2d(std::vector<std::complex<double>>& grid, int64_t h, int64_t w, bool inverse);

// out[ch] = f(y, x, ch) for a row-major (H, W, C) field by bilinear
// interpolation; outside the grid by `edge`. Inline: the generator calls it
// about a million times per sequence.
inline void sample_bilinear(const float* f, int64_t h, int64_t w, int64_t c, double y, double x,
                            Boundary edge, float* out) {
  // NaN or absurd coordinates read outside the grid rather than overflow.
  if (!(std::abs(y) < 1e9)) y = -2;
  if (!(std::abs(x) < 1e9)) x = -2;
  const double fy = std::floor(y), fx = std::floor(x);
  int64_t y0 = static_cast<int64_t>(fy), x0 = static_cast<int64_t>(fx);
  const float ty = static_cast<float>(y - fy), tx = static_cast<float>(x - fx);
  int64_t y1 = y0 + 1, x1 = x0 + 1;
  float wy0 = 1 - ty, wy1 = ty, wx0 = 1 - tx, wx1 = tx;
  switch (edge) {
    case Boundary::kWrap:
      // Divisions only for coordinates outside the grid.
      if (y0 < 0 || y0 >= h) y0 = (y0 % h + h) % h;
      if (x0 < 0 || x0 >= w) x0 = (x0 % w + w) % w;
      y1 = y0 + 1 == h ? 0 : y0 + 1;
      x1 = x0 + 1 == w ? 0 : x0 + 1;
      break;
    case Boundary::kClamp:
      y0 = std::clamp<int64_t>(y0, 0, h - 1);
      y1 = std::clamp<int64_t>(y1, 0, h - 1);
      x0 = std::clamp<int64_t>(x0, 0, w - 1);
      x1 = std::clamp<int64_t>(x1, 0, w - 1);
      break;
    case Boundary::kZero:
      // Outside corners weigh nothing (read at a clamped index).
      if (y0 < 0 || y0 >= h) wy0 = 0;
      if (y1 < 0 || y1 >= h) wy1 = 0;
      if (x0 < 0 || x0 >= w) wx0 = 0;
      if (x1 < 0 || x1 >= w) wx1 = 0;
      y0 = std::clamp<int64_t>(y0, 0, h - 1);
      y1 = std::clamp<int64_t>(y1, 0, h - 1);
      x0 = std::clamp<int64_t>(x0, 0, w - 1);
      x1 = std::clamp<int64_t>(x1, 0, w - 1);
      break;
  }
  const float* a = f + (y0 * w + x0) * c;
  const float* b = f + (y0 * w + x1) * c;
  const float* d = f + (y1 * w + x0) * c;
  const float* e = f + (y1 * w + x1) * c;
  for (int64_t ch = 0; ch < c; ++ch) {
    out[ch] = wy0 * (wx0 * a[ch] + wx1 * b[ch]) + wy1 * (wx0 * d[ch] + wx1 * e[ch]);
  }
}

// One channel of a (H, W) field.
inline float sample_bilinear(const float* f, int64_t h, int64_t w, double y, double x,
                             Boundary edge) {
  float out = 0;
  sample_bilinear(f, h, w, 1, y, x, edge, &out);
  return out;
}

// One backward step of trajectories: out(p) = v(p) + d(p - v(p)), where d
// is the displacement (H, W, 2) as (dy, dx) back to time 0 from time t - 1
// and v the motion (H, W, 2) of step t - 1 -> t. Displacements outside the
// grid are wrapped for kWrap, else clamped to the edge.
void compose_displacement(const float* d, const float* v, float* out, int64_t h, int64_t w,
                          Boundary edge);

// out(p) = f(p - d(p)) for a (H, W) field and a (H, W, 2) displacement.
void warp_backward(const float* f, const float* d, float* out, int64_t h, int64_t w, Boundary edge);

}  // namespace kiln::data::detail
