#include "kiln/train/nowcast_metrics.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "kiln/core/error.h"
#include "kiln/data/radar.h"

namespace kiln::train {
namespace {

void check_frames(const Tensor& t, const char* op, const char* what) {
  KILN_CHECK(t.defined() && t.dim() == 5 && t.size(4) == 1 && t.dtype() == DType::kF32, op,
             ": expects ", what, " as (B, T, H, W, 1) f32, got ",
             t.defined() ? shape_str(t.shape()) : "undefined");
}

}  // namespace

CsiAccumulator::CsiAccumulator(std::vector<double> thresholds, int64_t lead_frames)
    : thresholds_(std::move(thresholds)),
      leads_(lead_frames),
      counts_(thresholds_.size() * static_cast<size_t>(std::max<int64_t>(lead_frames, 0))) {
  KILN_CHECK(lead_frames >= 1, "CsiAccumulator: lead_frames must be >= 1, got ", lead_frames);
}

void CsiAccumulator::add(const Tensor& forecast, const Tensor& truth) {
  check_frames(forecast, "CsiAccumulator", "the forecast");
  check_frames(truth, "CsiAccumulator", "the truth");
  KILN_CHECK(forecast.shape() == truth.shape() && truth.size(1) == leads_,
             "CsiAccumulator: forecast ", shape_str(forecast.shape()), " and truth ",
             shape_str(truth.shape()), " must match with ", leads_, " lead frames");
  const Tensor f = as_contiguous(forecast), y = as_contiguous(truth);  // (B, Tl, H, W, 1)
  const float* fp = f.data<float>();
  const float* yp = y.data<float>();
  const int64_t b = truth.size(0), pixels = truth.size(2) * truth.size(3);
  for (size_t k = 0; k < thresholds_.size(); ++k) {
    const auto th = static_cast<float>(thresholds_[k]);
    for (int64_t i = 0; i < b; ++i) {
      for (int64_t t = 0; t < leads_; ++t) {
        Counts& c = counts_[k * leads_ + t];
        const int64_t base = (i * leads_ + t) * pixels;
        for (int64_t p = 0; p < pixels; ++p) {
          const bool fc = fp[base + p] >= th, ob = yp[base + p] >= th;
          c.hits += fc && ob;
          c.misses += !fc && ob;
          c.false_alarms += fc && !ob;
        }
      }
    }
  }
}

const CsiAccumulator::Counts& CsiAccumulator::counts(size_t threshold, int64_t lead) const {
  KILN_CHECK(threshold < thresholds_.size() && lead >= 0 && lead < leads_,
             "CsiAccumulator: no threshold ", threshold, " / lead ", lead);
  return counts_[threshold * leads_ + lead];
}

std::vector<std::vector<double>> CsiAccumulator::csi() const {
  std::vector<std::vector<double>> out(thresholds_.size(), std::vector<double>(leads_));
  for (size_t k = 0; k < thresholds_.size(); ++k) {
    for (int64_t t = 0; t < leads_; ++t) {
      const Counts& c = counts_[k * leads_ + t];
      const int64_t denom = c.hits + c.misses + c.false_alarms;
      out[k][t] = denom == 0 ? std::numeric_limits<double>::quiet_NaN()
                             : static_cast<double>(c.hits) / static_cast<double>(denom);
    }
  }
  return out;
}

double crps_fair(const float* members, int64_t m, float y) {
  KILN_CHECK(m >= 1, "crps_fair: needs at least one member, got ", m);
  double skill = 0;
  for (int64_t i = 0; i < m; ++i) skill += std::abs(static_cast<double>(members[i]) - y);
  skill /= static_cast<double>(m);
  if (m == 1) return skill;
  // sum_i sum_j |x_i - x_j| = 2 sum_i (2 i - m + 1) x_(i) over the sorted x.
  std::vector<double> x(members, members + m);
  std::sort(x.begin(), x.end());
  double spread = 0;
  for (int64_t i = 0; i < m; ++i) spread += 2.0 * static_cast<double>(2 * i - m + 1) * x[i];
  return skill - spread / (2.0 * static_cast<double>(m) * static_cast<double>(m - 1));
}

Tensor average_pool_frames(const Tensor& frames, int64_t k) {
  check_frames(frames, "average_pool_frames", "frames");
  KILN_CHECK(k >= 1 && k <= frames.size(2) && k <= frames.size(3), "average_pool_frames: scale ", k,
             " does not fit frames ", shape_str(frames.shape()));
  if (k == 1) return frames;
  const Tensor src = as_contiguous(frames);
  const int64_t n = frames.size(0) * frames.size(1), h = frames.size(2), w = frames.size(3);
  const int64_t ho = h / k, wo = w / k;
  Tensor out = zeros({frames.size(0), frames.size(1), ho, wo, 1});  // (B, T, H / k, W / k, 1)
  const float* s = src.data<float>();
  float* d = out.data<float>();
  const float scale = 1.0f / static_cast<float>(k * k);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t y = 0; y < ho * k; ++y) {
      for (int64_t x = 0; x < wo * k; ++x)
        d[(i * ho + y / k) * wo + x / k] += s[(i * h + y) * w + x];
    }
  }
  for (int64_t i = 0; i < out.numel(); ++i) d[i] *= scale;
  return out;
}

CrpsAccumulator::CrpsAccumulator(std::vector<int64_t> scales, int64_t lead_frames)
    : scales_(std::move(scales)),
      leads_(lead_frames),
      sum_(scales_.size() * static_cast<size_t>(std::max<int64_t>(lead_frames, 0)), 0.0),
      count_(sum_.size(), 0) {
  KILN_CHECK(lead_frames >= 1, "CrpsAccumulator: lead_frames must be >= 1, got ", lead_frames);
}

void CrpsAccumulator::add(const std::vector<Tensor>& samples, const Tensor& truth) {
  check_frames(truth, "CrpsAccumulator", "the truth");
  KILN_CHECK(!samples.empty() && truth.size(1) == leads_, "CrpsAccumulator: needs samples and ",
             leads_, " lead frames, got ", samples.size(), " samples and truth ",
             shape_str(truth.shape()));
  for (const Tensor& s : samples) {
    check_frames(s, "CrpsAccumulator", "each sample");
    KILN_CHECK(s.shape() == truth.shape(), "CrpsAccumulator: sample ", shape_str(s.shape()),
               " vs truth ", shape_str(truth.shape()));
  }
  const auto m = static_cast<int64_t>(samples.size());
  for (size_t k = 0; k < scales_.size(); ++k) {
    const Tensor y = as_contiguous(average_pool_frames(truth, scales_[k]));  // (B, Tl, H/k, W/k, 1)
    std::vector<Tensor> pooled;
    for (const Tensor& s : samples)
      pooled.push_back(as_contiguous(average_pool_frames(s, scales_[k])));
    const int64_t b = y.size(0), pixels = y.size(2) * y.size(3);
    std::vector<float> members(static_cast<size_t>(m));
    for (int64_t i = 0; i < b; ++i) {
      for (int64_t t = 0; t < leads_; ++t) {
        const int64_t base = (i * leads_ + t) * pixels;
        double total = 0;
        for (int64_t p = 0; p < pixels; ++p) {
          for (int64_t j = 0; j < m; ++j) members[j] = pooled[j].data<float>()[base + p];
          total += crps_fair(members.data(), m, y.data<float>()[base + p]);
        }
        sum_[k * leads_ + t] += total;
        count_[k * leads_ + t] += pixels;
      }
    }
  }
}

std::vector<std::vector<double>> CrpsAccumulator::crps() const {
  std::vector<std::vector<double>> out(scales_.size(), std::vector<double>(leads_));
  for (size_t k = 0; k < scales_.size(); ++k) {
    for (int64_t t = 0; t < leads_; ++t) {
      const int64_t c = count_[k * leads_ + t];
      out[k][t] = c == 0 ? std::numeric_limits<double>::quiet_NaN()
                         : sum_[k * leads_ + t] / static_cast<double>(c);
    }
  }
  return out;
}

void PsdAccumulator::add(const Tensor& frames) {
  check_frames(frames, "PsdAccumulator", "frames");
  const int64_t h = frames.size(2), w = frames.size(3), side = std::min(h, w);
  KILN_CHECK(side_ == 0 || side_ == side, "PsdAccumulator: frames of side ", side,
             " after frames of side ", side_);
  side_ = side;
  sum_.resize(static_cast<size_t>(side / 2), 0.0);
  const Tensor src = as_contiguous(frames);
  const int64_t n = frames.size(0) * frames.size(1);
  for (int64_t i = 0; i < n; ++i) {
    const Tensor frame = make_view(src, {h, w}, {w, 1}, src.offset() + i * h * w);  // (H, W)
    const std::vector<float> psd = to_float_vector(data::radial_power_spectrum(frame));
    for (size_t k = 0; k < psd.size(); ++k) sum_[k] += psd[k];
  }
  frames_ += n;
}

std::vector<double> PsdAccumulator::psd() const {
  std::vector<double> out(sum_);
  for (double& v : out) v /= static_cast<double>(std::max<int64_t>(frames_, 1));
  return out;
}

std::vector<double> PsdAccumulator::frequencies() const {
  std::vector<double> out(sum_.size());
  for (size_t k = 0; k < out.size(); ++k)
    out[k] = static_cast<double>(k + 1) / static_cast<double>(side_);
  return out;
}

}  // namespace kiln::train
