// radar_synthetic: spectrally shaped latent fields, thresholded into rain
// cells, advected by smooth time-varying winds (data/radar.h describes the
// model).
#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <utility>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/radar.h"
#include "src/data/radar_util.h"
#include "src/data/random_util.h"

namespace kiln::data {
namespace {

constexpr uint64_t kRadarTag = 0x5241444152ull;  // "RADAR"
constexpr int64_t kMotionModes = 3;
constexpr double kMaxRate = 128.0;  // mm/h, the UK composite's clip
// Spectra fall off as exp(-(f / kTaper)^2) (f in cycles per pixel): a
// radar's finite resolution, and what keeps interpolation from making
// frames sharper or blurrier as their sub-pixel offsets change.
constexpr double kTaper = 0.2;

using Plane = std::vector<float>;

// Uniform and normal draws from Philox blocks keyed by (seed, index).
class Draws {
 public:
  explicit Draws(uint64_t key) : key_(key) {}
  double uniform() { return (static_cast<double>(bits32()) + 0.5) * 0x1p-32; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // Two N(0, 1) draws (Box-Muller) from one block.
  std::pair<double, double> normal_pair() {
    const auto r = kernels::philox4x32(key_, counter_++);
    const double u1 = (static_cast<double>(r[0]) + 0.5) * 0x1p-32;
    const double u2 = (static_cast<double>(r[1]) + 0.5) * 0x1p-32;
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    return {radius * std::cos(angle), radius * std::sin(angle)};
  }

 private:
  uint32_t bits32() { return kernels::philox4x32(key_, counter_++)[0]; }
  uint64_t key_;
  uint64_t counter_ = 0;
};

// Two independent periodic fields, interleaved (h, w, 2), with 2-D power
// spectrum ~ (|f|^2 + f0^2)^(-slope/2) exp(-2 |f|^2 / kTaper^2): f in cycles per domain pixel,
// where one grid cell spans `cell` domain pixels, and f0 one cycle per domain. Complex white noise
// shaped in the frequency domain and transformed back gives both at once (its real and imaginary
// parts), each normalised to mean 0 and variance 1.
Plane spectral_fields(Draws& draws, int64_t h, int64_t w, int64_t cell, double slope,
                      double outer_scale) {
  std::vector<std::complex<double>> grid(static_cast<size_t>(h * w));
  const double f0 = 1.0 / outer_scale;
  for (int64_t ky = 0; ky < h; ++ky) {
    const double fy =
        static_cast<double>(ky <= h / 2 ? ky : ky - h) / static_cast<double>(h * cell);
    for (int64_t kx = 0; kx < w; ++kx) {
      const double fx =
          static_cast<double>(kx <= w / 2 ? kx : kx - w) / static_cast<double>(w * cell);
      const auto [a, b] = draws.normal_pair();
      const double f2 = fy * fy + fx * fx;
      const double amplitude = ky == 0 && kx == 0 ? 0.0
                                                  : std::pow(f2 + f0 * f0, -slope / 4) *
                                                        std::exp(-f2 / (kTaper * kTaper));
      grid[ky * w + kx] = {a * amplitude, b * amplitude};
    }
  }
  detail::fft2d(grid, h, w, /*inverse=*/true);
  Plane out(static_cast<size_t>(h * w * 2));
  for (int part = 0; part < 2; ++part) {
    double sum = 0, sum2 = 0;
    for (const auto& c : grid) {
      const double v = part == 0 ? c.real() : c.imag();
      sum += v;
      sum2 += v * v;
    }
    const double n = static_cast<double>(grid.size());
    const double mean = sum / n;
    const double sd = std::sqrt(std::max(sum2 / n - mean * mean, 1e-30));
    for (size_t i = 0; i < grid.size(); ++i) {
      const double v = part == 0 ? grid[i].real() : grid[i].imag();
      out[2 * i + part] = static_cast<float>((v - mean) / sd);
    }
  }
  return out;
}

// The z with P(N(0, 1) > z) = p, by bisection.
double normal_upper_quantile(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 100; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(mid / std::numbers::sqrt2) > p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// Catmull-Rom weights of the taps at -1, 0, 1, 2 for a fraction t.
void cubic_weights(double t, double* w) {
  const double t2 = t * t, t3 = t2 * t;
  w[0] = 0.5 * (-t3 + 2 * t2 - t);
  w[1] = 0.5 * (3 * t3 - 5 * t2 + 2);
  w[2] = 0.5 * (-3 * t3 + 4 * t2 + t);
  w[3] = 0.5 * (t3 - t2);
}

// Channel 0 of a periodic (h, w, 2) field at (y, x), bicubic: bilinear
// would attenuate fine scales by up to half, more at some offsets than at
// others, and the latent carries the cells' edges.
double sample_cubic_wrap(const float* f, int64_t h, int64_t w, double y, double x) {
  const double fy = std::floor(y), fx = std::floor(x);
  double wy[4], wx[4];
  cubic_weights(y - fy, wy);
  cubic_weights(x - fx, wx);
  // Tap indices, wrapped only near the edges.
  const auto x0 = static_cast<int64_t>(fx) - 1, y0 = static_cast<int64_t>(fy) - 1;
  auto wrap = [](int64_t i, int64_t n) { return i >= 0 && i < n ? i : (i % n + n) % n; };
  int64_t cols[4];
  for (int k = 0; k < 4; ++k) cols[k] = 2 * wrap(x0 + k, w);
  double out = 0;
  for (int j = 0; j < 4; ++j) {
    const float* r = f + wrap(y0 + j, h) * w * 2;
    out +=
        wy[j] * (wx[0] * r[cols[0]] + wx[1] * r[cols[1]] + wx[2] * r[cols[2]] + wx[3] * r[cols[3]]);
  }
  return out;
}

// The wind: a slowly turning mean plus divergence-free stream-function
// modes of low wavenumber whose phases drift.
struct Wind {
  double speed = 0, angle = 0, turn = 0;
  struct Mode {
    double ky = 0, kx = 0;  // cycles per domain
    double ey = 0, ex = 0;  // unit direction, perpendicular to (ky, kx)
    double phase = 0, drift = 0, amplitude = 0;
  };
  std::vector<Mode> modes;

  std::array<double, 2> mean(int64_t t) const {
    const double a = angle + turn * static_cast<double>(t);
    return {speed * std::sin(a), speed * std::cos(a)};
  }

  // The motion (H, W, 2) of step t - 1 -> t on the (h, w) domain, at every
  // `stride`-th pixel and in units of `stride` pixels: a (h / stride,
  // w / stride, 2) grid.
  void field(int64_t t, int64_t h, int64_t w, int64_t stride, Plane& v) const {
    const int64_t hc = h / stride, wc = w / stride;
    const auto [my, mx] = mean(t);
    const double unit = 1.0 / static_cast<double>(stride);
    for (int64_t i = 0; i < hc * wc; ++i) {
      v[2 * i] = static_cast<float>(my * unit);
      v[2 * i + 1] = static_cast<float>(mx * unit);
    }
    std::vector<double> cos_x(static_cast<size_t>(wc)), sin_x(static_cast<size_t>(wc));
    for (const Mode& m : modes) {
      for (int64_t x = 0; x < wc; ++x) {
        const double a = 2 * std::numbers::pi * m.kx * static_cast<double>(x * stride) / w;
        cos_x[x] = std::cos(a);
        sin_x[x] = std::sin(a);
      }
      for (int64_t y = 0; y < hc; ++y) {
        const double b = 2 * std::numbers::pi * m.ky * static_cast<double>(y * stride) / h +
                         m.phase + m.drift * static_cast<double>(t);
        const double cb = std::cos(b) * unit, sb = std::sin(b) * unit;
        float* row = v.data() + 2 * y * wc;
        for (int64_t x = 0; x < wc; ++x) {
          const double c = m.amplitude * (cos_x[x] * cb - sin_x[x] * sb);  // cos(a + b)
          row[2 * x] += static_cast<float>(c * m.ey);
          row[2 * x + 1] += static_cast<float>(c * m.ex);
        }
      }
    }
  }
};

Wind draw_wind(const RadarSyntheticOptions& o, Draws& draws, int64_t h, int64_t w) {
  Wind wind;
  wind.speed = draws.uniform(0.5, 1.0) * o.max_speed;
  wind.angle = draws.uniform(0, 2 * std::numbers::pi);
  wind.turn = draws.uniform(-o.max_turn, o.max_turn);
  for (int64_t m = 0; m < kMotionModes; ++m) {
    Wind::Mode mode;
    do {
      mode.ky = std::floor(draws.uniform(-2, 3));
      mode.kx = std::floor(draws.uniform(-2, 3));
    } while (mode.ky == 0 && mode.kx == 0);
    // Perpendicular to the wavevector in pixel units: divergence free.
    const double gy = mode.ky / h, gx = mode.kx / w, norm = std::hypot(gy, gx);
    mode.ey = gx / norm;
    mode.ex = -gy / norm;
    mode.phase = draws.uniform(0, 2 * std::numbers::pi);
    mode.drift = draws.uniform(-0.05, 0.05);
    mode.amplitude = o.motion_variation * wind.speed * std::sqrt(2.0 / kMotionModes);
    wind.modes.push_back(mode);
  }
  return wind;
}

class RadarSynthetic final : public Dataset {
 public:
  explicit RadarSynthetic(RadarSyntheticOptions options) : o_(options) {}
  int64_t size() const override { return o_.size; }

 protected:
  Example get_checked(int64_t index, const EpochKey&) const override {
    return Example{{kFramesKey, generate_radar_sequence(o_, index).frames}};
  }

 private:
  RadarSyntheticOptions o_;
};

}  // namespace

void check_radar_options(const RadarSyntheticOptions& o) {
  auto in = [](double v, double lo, double hi) { return v >= lo && v <= hi; };
  KILN_CHECK(o.size >= 0, "radar_synthetic: size must be >= 0, got ", o.size);
  KILN_CHECK(o.height >= 4 && o.width >= 4, "radar_synthetic: frames must be at least 4 x 4, got ",
             o.height, " x ", o.width);
  KILN_CHECK(o.context_frames >= 1 && o.lead_frames >= 0,
             "radar_synthetic: need context_frames >= 1 and lead_frames >= 0, got ",
             o.context_frames, " and ", o.lead_frames);
  KILN_CHECK(in(o.max_speed, 0, 64), "radar_synthetic: max_speed must be in [0, 64], got ",
             o.max_speed);
  KILN_CHECK(in(o.motion_variation, 0, 4),
             "radar_synthetic: motion_variation must be in [0, 4], got ", o.motion_variation);
  KILN_CHECK(in(o.max_turn, 0, 1), "radar_synthetic: max_turn must be in [0, 1], got ", o.max_turn);
  KILN_CHECK(o.growth >= 0 && o.growth < 1, "radar_synthetic: growth must be in [0, 1), got ",
             o.growth);
  KILN_CHECK(o.growth_period > 0, "radar_synthetic: growth_period must be > 0, got ",
             o.growth_period);
  KILN_CHECK(
      o.min_wet_fraction > 0 && o.min_wet_fraction <= o.max_wet_fraction && o.max_wet_fraction < 1,
      "radar_synthetic: need 0 < min_wet_fraction <= max_wet_fraction < 1, got ",
      o.min_wet_fraction, " and ", o.max_wet_fraction);
  KILN_CHECK(in(o.spectral_slope, 0, 8), "radar_synthetic: spectral_slope must be in [0, 8], got ",
             o.spectral_slope);
  KILN_CHECK(o.outer_scale >= 1, "radar_synthetic: outer_scale must be >= 1 pixel, got ",
             o.outer_scale);
  KILN_CHECK(o.rate_gain > 0 && o.rate_gain <= 10,
             "radar_synthetic: rate_gain must be in (0, 10], got ", o.rate_gain);
}

RadarSequence generate_radar_sequence(const RadarSyntheticOptions& o, int64_t index) {
  check_radar_options(o);
  KILN_CHECK(index >= 0, "radar_synthetic: index must be >= 0, got ", index);
  Draws draws(
      detail::derive_key(detail::derive_key(o.seed, kRadarTag), static_cast<uint64_t>(index)));
  const int64_t h = o.height, w = o.width, frames = o.context_frames + o.lead_frames;
  // A periodic domain twice the frame: what flows in has not been seen.
  const int64_t dh = 2 * h, dw = 2 * w, oy = h / 2, ox = w / 2;

  RadarSequence seq;
  seq.wet_fraction = draws.uniform(o.min_wet_fraction, o.max_wet_fraction);
  // The latent is N(0, 1) at every pixel and frame: the threshold leaves
  // the drawn wet fraction in expectation, the same for every frame (a
  // threshold fitted to this crop's own values would make its first, last or
  // middle frames special).
  const double threshold = normal_upper_quantile(seq.wet_fraction);
  const Wind wind = draw_wind(o, draws, dh, dw);
  // The winds are smooth (wavelengths of half the domain and more), so
  // trajectories are traced on a grid of every `stride`-th pixel and
  // interpolated; the growth fields, smoother still, live on it too.
  int64_t stride = 4;
  while (dh % stride != 0 || dw % stride != 0) stride /= 2;
  const int64_t hc = dh / stride, wc = dw / stride;
  // The latent (dh, dw, 2; channel 0 used) and two smoother fields (two more
  // powers of k) for growth and decay (hc, wc, 2).
  const Plane latent0 = spectral_fields(draws, dh, dw, 1, o.spectral_slope, o.outer_scale);
  const Plane growth = spectral_fields(draws, hc, wc, stride, o.spectral_slope + 2, o.outer_scale);
  const double keep = std::sqrt(1 - o.growth * o.growth);
  const double omega = 0.5 * std::numbers::pi / o.growth_period;

  // Each frame pixel reads the displacement at the same place of the coarse
  // grid in every frame: its four corners and weights, once.
  struct Corners {
    int64_t i[4];
    float w[4];
  };
  std::vector<Corners> corners(static_cast<size_t>(h * w));
  for (int64_t y = 0; y < h; ++y) {
    for (int64_t x = 0; x < w; ++x) {
      const double cy = static_cast<double>(y + oy) / stride,
                   cx = static_cast<double>(x + ox) / stride;
      const auto y0 = static_cast<int64_t>(cy), x0 = static_cast<int64_t>(cx);
      const auto ty = static_cast<float>(cy - y0), tx = static_cast<float>(cx - x0);
      const int64_t y1 = (y0 + 1) % hc, x1 = (x0 + 1) % wc;
      corners[y * w + x] = {{y0 * wc + x0, y0 * wc + x1, y1 * wc + x0, y1 * wc + x1},
                            {(1 - ty) * (1 - tx), (1 - ty) * tx, ty * (1 - tx), ty * tx}};
    }
  }
  Plane d(static_cast<size_t>(hc * wc * 2), 0.0f), next(d.size()), v(d.size());
  seq.frames = Tensor::empty({frames, h, w, 1});  // (T, H, W, 1)
  float* out = seq.frames.data<float>();
  for (int64_t t = 0; t < frames; ++t) {
    if (t > 0) {
      wind.field(t, dh, dw, stride, v);
      detail::compose_displacement(d.data(), v.data(), next.data(), hc, wc, Boundary::kWrap);
      d.swap(next);
    }
    seq.mean_motion.push_back(t > 0 ? wind.mean(t) : std::array<double, 2>{0, 0});
    const double c = o.growth * std::cos(omega * t), s = o.growth * std::sin(omega * t);
    for (int64_t y = 0; y < h; ++y) {
      for (int64_t x = 0; x < w; ++x) {
        const Corners& k = corners[y * w + x];
        float by = 0, bx = 0;  // displacement back to frame 0, in coarse cells
        for (int j = 0; j < 4; ++j) {
          by += k.w[j] * d[2 * k.i[j]];
          bx += k.w[j] * d[2 * k.i[j] + 1];
        }
        const double sy = static_cast<double>(y + oy) - stride * by;
        const double sx = static_cast<double>(x + ox) - stride * bx;
        float g[2];
        detail::sample_bilinear(growth.data(), hc, wc, 2, sy / stride, sx / stride, Boundary::kWrap,
                                g);
        const double z =
            keep * sample_cubic_wrap(latent0.data(), dh, dw, sy, sx) + c * g[0] + s * g[1];
        const double rate = z > threshold ? std::expm1(o.rate_gain * (z - threshold)) : 0.0;
        out[(t * h + y) * w + x] = static_cast<float>(std::min(rate, kMaxRate));
      }
    }
  }
  return seq;
}

DatasetPtr radar_synthetic(const RadarSyntheticOptions& options) {
  check_radar_options(options);
  return std::make_shared<RadarSynthetic>(options);
}

}  // namespace kiln::data
