// Radar-like precipitation sequences for nowcasting (DGMR, papers.md 8).
//
// Example: {"frames": (T, H, W, 1) f32 rain rate in mm/h}, T = context +
// lead frames (4 + 18 by default); batched (B, T, H, W, 1).
//
// radar_synthetic draws each sequence from (seed, index) alone:
// - a latent field with a power-law spectrum (2-D PSD ~ |k|^-slope, flat
//   beyond outer_scale pixels, tapered near the pixel scale; complex noise
//   shaped in the frequency domain, Eigen FFT) on a periodic domain twice
//   the frame size, normalised to N(0, 1);
// - rain where the latent exceeds the N(0, 1) quantile that leaves the
//   sequence's wet fraction (uniform in [min, max]) in expectation, rate =
//   exp(gain (z - threshold)) - 1 mm/h, clipped at 128 like the UK
//   composite: mostly dry, heavy tailed, statistically the same in every
//   frame (a crop can be dry; DGMR importance-samples rainy crops, which a
//   loader can do on top);
// - advected by a smooth, divergence-free motion field: a mean wind (speed
//   uniform in [max_speed / 2, max_speed] px/frame, slowly turning) plus a
//   few low-wavenumber stream-function modes that drift in time;
// - growth and decay: the latent is mixed with a second smooth field that
//   moves with the rain and evolves in time (weight `growth`, decorrelating
//   over about `growth_period` frames).
// Frames are traced back to the first one with composed semi-Lagrangian
// displacements (the routine data::advect uses) and sampled once, so motion
// does not blur the field; the frame is the centre crop of the domain. The
// smooth parts (trajectories, growth fields) live on a grid of every 4th
// pixel: a 64 x 64 x 22 sequence takes a few ms.
//
// radar npy files (read_radar_npy / write_radar_npy): NumPy .npy version 1
// or 2, dtype '<f4' (float32 little-endian), C order (fortran_order False),
// shape (N, T, H, W) or (N, T, H, W, 1), rain rate in mm/h, finite, >= 0
// and <= kMaxRadarRate (clip mask values such as -1/32 to 0 first).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kiln/data/dataset.h"

namespace kiln::data {

inline constexpr char kFramesKey[] = "frames";
// Rates above this (mm/h) are rejected as implausible by the reader.
inline constexpr double kMaxRadarRate = 1000.0;

struct RadarSyntheticOptions {
  int64_t size = 1024;  // number of sequences
  int64_t height = 64;
  int64_t width = 64;
  int64_t context_frames = 4;
  int64_t lead_frames = 18;
  double max_speed = 1.0;         // mean wind, pixels per frame
  double motion_variation = 0.3;  // rms of the varying part / mean speed
  double max_turn = 0.02;         // turn of the mean wind, radians per frame
  double growth = 0.4;            // weight of the growth/decay field, [0, 1)
  double growth_period = 40.0;    // frames
  double min_wet_fraction = 0.1;
  double max_wet_fraction = 0.4;
  double spectral_slope = 3.0;  // 2-D power spectrum ~ |k|^-slope
  double outer_scale = 32.0;    // pixels; the spectrum is flat at longer wavelengths
  double rate_gain = 2.0;       // rate = exp(gain (z - threshold)) - 1
  uint64_t seed = 0;
};

// Throws kiln::Error naming the first invalid option.
void check_radar_options(const RadarSyntheticOptions& options);

struct RadarSequence {
  Tensor frames;  // (T, H, W, 1) f32 mm/h
  // (T) mean wind (dy, dx) of step t - 1 -> t in pixels; zero for t = 0.
  std::vector<std::array<double, 2>> mean_motion;
  double wet_fraction = 0;  // the target drawn for this sequence
};

// Sequence `index` of radar_synthetic(options).
RadarSequence generate_radar_sequence(const RadarSyntheticOptions& options, int64_t index);

// Examples {"frames": (T, H, W, 1)}, generated on demand.
DatasetPtr radar_synthetic(const RadarSyntheticOptions& options);

// Reads a radar npy file (format above) into (N, T, H, W, 1) f32. Errors
// name the file and the field: NotFound, DataLoss (truncated), or
// InvalidArgument (magic, header, dtype, order, shape, values).
absl::StatusOr<Tensor> read_radar_npy(const std::string& path);
// Writes (N, T, H, W, 1) or (N, T, H, W) f32 as a version 1 npy file of
// shape (N, T, H, W, 1), atomically (temporary file, then rename).
absl::Status write_radar_npy(const std::string& path, const Tensor& sequences);

// Examples {"frames": (T, H, W, 1)} of sequences [begin, end) of a file.
DatasetPtr radar_sequences_dataset(const Tensor& sequences, int64_t begin, int64_t end);

// Radially averaged power spectral density of a frame (H, W) f32: bin k in
// [1, K], K = min(H, W) / 2, averages |DFT|^2 / (H W) over the frequencies
// whose |f| * min(H, W) rounds to k (f in cycles per pixel), so bin k is
// the wavelength min(H, W) / k pixels. Returns (K) f32; the mean (k = 0) is
// left out.
Tensor radial_power_spectrum(const Tensor& frame);

}  // namespace kiln::data
