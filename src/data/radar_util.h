// Grid helpers shared by the radar generator, the advection nowcast and the
// power spectrum: 2-D FFTs and semi-Lagrangian backward advection on raw
// row-major buffers. Internal to the data layer (Eigen stays in the .cc).
#pragma once

#include <complex>
#include <cstdint>
#include <vector>

#include "kiln/data/radar_motion.h"

namespace kiln::data::detail {

// In-place 2-D DFT of a row-major (H, W) grid: rows, then columns (Eigen's
// kissfft backend, in double). The inverse includes the 1 / (H W) factor.
void fft2d(std::vector<std::complex<double>>& grid, int64_t h, int64_t w, bool inverse);

// f(y, x) of a row-major (H, W) field by bilinear interpolation; outside the
// grid by `edge`.
float sample_bilinear(const float* f, int64_t h, int64_t w, double y, double x, Boundary edge);

// One backward step of trajectories: out(p) = v(p) + d(p - v(p)), where d
// is the displacement (H, W, 2) as (dy, dx) back to time 0 from time t - 1
// and v the motion (H, W, 2) of step t - 1 -> t. Displacements outside the
// grid are wrapped for kWrap, else clamped to the edge.
void compose_displacement(const float* d, const float* v, float* out, int64_t h, int64_t w,
                          Boundary edge);

// out(p) = f(p - d(p)) for a (H, W) field and a (H, W, 2) displacement.
void warp_backward(const float* f, const float* d, float* out, int64_t h, int64_t w, Boundary edge);

}  // namespace kiln::data::detail
