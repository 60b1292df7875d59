// Motion of rain fields: semi-Lagrangian backward advection (the radar
// generator and the advection nowcast share it) and dense motion estimation
// from a few frames (multi-scale Lucas-Kanade).
//
// A motion field is (H, W, 2) f32: per pixel the (dy, dx) displacement in
// pixels per frame, so rain at p at time t - 1 is near p + v(p) at time t.
#pragma once

#include <cstdint>

#include "kiln/tensor/tensor.h"

namespace kiln::data {

// What lies outside the grid: the field repeats (periodic domains), the
// edge value continues, or zero (no rain flows in).
enum class Boundary { kWrap, kClamp, kZero };

// Extrapolates `frame` (H, W) under the steady `motion` (H, W, 2) for
// `steps` frames: (steps, H, W) f32. Frame t samples `frame` once, at the
// end of the backward trajectory D_t(p) = v(p) + D_{t-1}(p - v(p)), with
// bilinear interpolation, so repeated steps do not blur it further.
Tensor advect(const Tensor& frame, const Tensor& motion, int64_t steps,
              Boundary boundary = Boundary::kZero);

struct MotionEstimateOptions {
  int64_t window = 15;          // Lucas-Kanade window side (pixels, odd)
  int64_t min_size = 16;        // coarsest pyramid level's smaller side
  int64_t iterations = 1;       // refinements per level (more oscillate here)
  double regularization = 0.1;  // Tikhonov term on the 2x2 systems
  int64_t smoothing = 0;        // final box smoothing radius; 0: max(H, W) / 8
};

// The steady motion (H, W, 2) that best moves each frame of `frames`
// (T >= 2, H, W) f32 mm/h onto the next: multi-scale Lucas-Kanade on
// log(1 + rain rate), the pairs' normal equations summed, coarse to fine,
// then box-smoothed (the motion of rain systems is smooth).
Tensor estimate_motion(const Tensor& frames, const MotionEstimateOptions& options = {});

}  // namespace kiln::data
