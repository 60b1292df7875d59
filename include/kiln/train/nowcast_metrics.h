// Verification scores of precipitation nowcasts (DGMR, papers.md 8(b)):
// tensors in, numbers out, accumulated over batches. Forecasts and truth are
// rain rates in mm/h, (B, Tl, H, W, 1) f32: Tl lead times.
#pragma once

#include <cstdint>
#include <vector>

#include "kiln/tensor/tensor.h"

namespace kiln::train {

// Critical success index per threshold and lead time: a pixel is rainy when
// its rate is >= the threshold; CSI = hits / (hits + misses + false alarms),
// the counts summed over every batch (and every sample added) before the
// ratio. NaN where neither forecast nor truth ever reaches the threshold.
class CsiAccumulator {
 public:
  struct Counts {
    int64_t hits = 0, misses = 0, false_alarms = 0;
  };
  CsiAccumulator(std::vector<double> thresholds, int64_t lead_frames);
  // forecast, truth: (B, Tl, H, W, 1).
  void add(const Tensor& forecast, const Tensor& truth);
  const Counts& counts(size_t threshold, int64_t lead) const;
  // [threshold][lead].
  std::vector<std::vector<double>> csi() const;
  const std::vector<double>& thresholds() const { return thresholds_; }

 private:
  std::vector<double> thresholds_;
  int64_t leads_;
  std::vector<Counts> counts_;  // [threshold * leads + lead]
};

// The fair (unbiased) ensemble CRPS of `m` members against the observation y
// (Ferro 2014):
//   (1/m) sum_i |x_i - y| - 1/(2 m (m - 1)) sum_i sum_j |x_i - x_j|,
// an unbiased estimate of the CRPS of the distribution the members are drawn
// from. For m = 1 the spread term is dropped: the absolute error.
double crps_fair(const float* members, int64_t m, float y);

// (B, T, H, W, 1) -> (B, T, H / k, W / k, 1): means over non-overlapping
// k x k blocks (stride k; trailing rows and columns that do not fill a
// block are dropped).
Tensor average_pool_frames(const Tensor& frames, int64_t k);

// Mean fair CRPS per pooling scale and lead time over every pixel of every
// example: the samples and the truth are average-pooled at each scale
// first (CRPS at 1, 4 and 16 km on 1 km radar).
class CrpsAccumulator {
 public:
  CrpsAccumulator(std::vector<int64_t> scales, int64_t lead_frames);
  // samples: S tensors (B, Tl, H, W, 1), truth (B, Tl, H, W, 1); every scale
  // must fit in H and W.
  void add(const std::vector<Tensor>& samples, const Tensor& truth);
  // [scale][lead].
  std::vector<std::vector<double>> crps() const;
  const std::vector<int64_t>& scales() const { return scales_; }

 private:
  std::vector<int64_t> scales_;
  int64_t leads_;
  std::vector<double> sum_;     // [scale * leads + lead]
  std::vector<int64_t> count_;  // pixels
};

// Radially averaged power spectral density (data::radial_power_spectrum),
// averaged over every frame added.
class PsdAccumulator {
 public:
  // frames: (B, T, H, W, 1); all adds must have the same H and W.
  void add(const Tensor& frames);
  // (K) mean PSD, and the bins' frequencies k / min(H, W) in cycles per pixel.
  std::vector<double> psd() const;
  std::vector<double> frequencies() const;

 private:
  int64_t side_ = 0;
  std::vector<double> sum_;
  int64_t frames_ = 0;
};

}  // namespace kiln::train
