// Polyphase windowed-sinc resampling. For to / from = L / M in lowest terms,
// output sample n sits at input time t = n M / L = i + p / L with
// i = floor(n M / L) and phase p = n M mod L, so only L distinct sets of
// filter taps exist. They are tabulated once when the table is small (every
// pair of common rates: 44.1 kHz -> 16 kHz has L = 160); for odd rate pairs
// whose table would be large the same taps are computed per output sample.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <numeric>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/audio.h"

namespace kiln::data {
namespace {

// Above this many floats (16 MB) the taps are computed per output sample.
constexpr int64_t kMaxTableEntries = int64_t{1} << 22;

struct Filter {
  double cutoff;      // cycles per input sample
  double half_width;  // input samples on each side of t with non-zero taps
  int64_t reach;      // taps cover inputs i - reach + 1 .. i + reach
  double kaiser_beta;
  double kaiser_norm;  // 1 / I0(beta)

  int64_t taps() const { return 2 * reach; }

  // The kernel at distance `d` input samples: a sinc of unit DC gain for
  // cutoff `cutoff`, Kaiser-windowed to |d| < half_width.
  double operator()(double d) const {
    const double u = d / half_width;
    if (std::abs(u) >= 1.0) return 0.0;
    const double x = 2.0 * cutoff * d;
    const double sinc = x == 0.0 ? 1.0 : std::sin(std::numbers::pi * x) / (std::numbers::pi * x);
    const double window =
        std::cyl_bessel_i(0.0, kaiser_beta * std::sqrt(1.0 - u * u)) * kaiser_norm;
    return 2.0 * cutoff * sinc * window;
  }

  // Taps for fractional position `frac` in [0, 1): dst[j] weighs input
  // i - reach + 1 + j.
  void fill(double frac, float* dst) const {
    for (int64_t j = 0; j < taps(); ++j) {
      dst[j] = static_cast<float>((*this)(frac - static_cast<double>(j - reach + 1)));
    }
  }
};

}  // namespace

Tensor resample(const Tensor& samples, int64_t from_rate, int64_t to_rate,
                const ResampleOptions& options) {
  KILN_CHECK(samples.defined() && samples.dim() == 1 && samples.dtype() == DType::kF32,
             "resample: expects (T) f32 samples, got ",
             samples.defined() ? shape_str(samples.shape()) : "undefined", " ",
             samples.defined() ? dtype_name(samples.dtype()) : "");
  KILN_CHECK(from_rate > 0 && to_rate > 0, "resample: rates must be positive, got ", from_rate,
             " -> ", to_rate);
  KILN_CHECK(options.zero_crossings >= 1, "resample: zero_crossings must be >= 1, got ",
             options.zero_crossings);
  KILN_CHECK(options.kaiser_beta >= 0.0, "resample: kaiser_beta must be >= 0, got ",
             options.kaiser_beta);
  KILN_CHECK(options.rolloff > 0.0 && options.rolloff <= 1.0,
             "resample: rolloff must be in (0, 1], got ", options.rolloff);
  if (from_rate == to_rate) return samples;

  const int64_t g = std::gcd(from_rate, to_rate);
  const int64_t up = to_rate / g;      // L
  const int64_t down = from_rate / g;  // M
  Filter filter;
  // Downsampling must also remove what the new rate cannot represent.
  filter.cutoff = 0.5 * options.rolloff * std::min(1.0, static_cast<double>(up) / down);
  filter.half_width = static_cast<double>(options.zero_crossings) / (2.0 * filter.cutoff);
  filter.reach = static_cast<int64_t>(std::ceil(filter.half_width)) + 1;
  filter.kaiser_beta = options.kaiser_beta;
  filter.kaiser_norm = 1.0 / std::cyl_bessel_i(0.0, options.kaiser_beta);
  const int64_t taps = filter.taps();

  const Tensor src = as_contiguous(samples);
  const float* in = src.data<float>();
  const int64_t t_in = samples.size(0);
  // ceil(T L / M) in 128 bits: T L can exceed 2^63 for odd rate pairs.
  const auto t_out = static_cast<int64_t>((static_cast<__int128>(t_in) * up + down - 1) /
                                          static_cast<__int128>(down));
  Tensor out = Tensor::empty({t_out}, DType::kF32);
  float* dst = out.data<float>();

  const bool tabulate = up * taps <= kMaxTableEntries;
  std::vector<float> table;
  if (tabulate) {
    table.resize(static_cast<size_t>(up * taps));
    for (int64_t p = 0; p < up; ++p) {
      filter.fill(static_cast<double>(p) / up, table.data() + p * taps);
    }
  }
  std::vector<float> scratch(tabulate ? 0 : static_cast<size_t>(taps));
  for (int64_t n = 0; n < t_out; ++n) {
    const auto pos = static_cast<__int128>(n) * down;
    const auto i = static_cast<int64_t>(pos / up);
    const auto p = static_cast<int64_t>(pos % up);
    const float* h = scratch.data();
    if (tabulate) {
      h = table.data() + p * taps;
    } else {
      filter.fill(static_cast<double>(p) / up, scratch.data());
    }
    const int64_t first = i - filter.reach + 1;
    // Inputs outside [0, T) are zero: clip the tap range instead.
    const int64_t j0 = std::max<int64_t>(0, -first);
    const int64_t j1 = std::min<int64_t>(taps, t_in - first);
    double acc = 0.0;
    for (int64_t j = j0; j < j1; ++j) acc += static_cast<double>(h[j]) * in[first + j];
    dst[n] = static_cast<float>(acc);
  }
  return out;
}

Waveform resample(const Waveform& waveform, int64_t to_rate, const ResampleOptions& options) {
  return Waveform{resample(waveform.samples, waveform.sample_rate, to_rate, options), to_rate};
}

}  // namespace kiln::data
