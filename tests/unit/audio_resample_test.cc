// Resampling: lengths, tones keep their frequency and amplitude through the
// passband, tones the new rate cannot hold are removed, and the tabulated and
// per-sample paths agree. The measured quality backs the numbers documented
// on ResampleOptions.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "kiln/core/error.h"
#include "kiln/data/audio.h"

namespace kiln::data {
namespace {

Tensor sine(double freq, int64_t rate, int64_t n, double amplitude = 0.5, double phase = 0.3) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(amplitude * std::sin(2.0 * M_PI * freq * i / rate + phase));
  }
  return from_vector(x, {n});
}

struct Fit {
  double amplitude;  // of the best sinusoid at the given frequency
  double residual;   // rms of what remains
};

// Least-squares fit of a sin + b cos at `freq` to y[margin : T - margin]
// (away from the zero-padded edges).
Fit fit_tone(const Tensor& y, double freq, int64_t rate, int64_t margin) {
  const std::vector<double> v = to_vector(y);
  double ss = 0, cc = 0, sc = 0, sy = 0, cy = 0;
  const int64_t end = static_cast<int64_t>(v.size()) - margin;
  for (int64_t i = margin; i < end; ++i) {
    const double s = std::sin(2.0 * M_PI * freq * i / rate),
                 c = std::cos(2.0 * M_PI * freq * i / rate);
    ss += s * s, cc += c * c, sc += s * c, sy += s * v[i], cy += c * v[i];
  }
  const double det = ss * cc - sc * sc;
  const double a = (sy * cc - cy * sc) / det, b = (cy * ss - sy * sc) / det;
  double r2 = 0;
  for (int64_t i = margin; i < end; ++i) {
    const double e = v[i] - a * std::sin(2.0 * M_PI * freq * i / rate) -
                     b * std::cos(2.0 * M_PI * freq * i / rate);
    r2 += e * e;
  }
  return {std::hypot(a, b), std::sqrt(r2 / static_cast<double>(end - margin))};
}

double rms(const Tensor& y, int64_t margin) {
  const std::vector<double> v = to_vector(y);
  double s = 0;
  const int64_t end = static_cast<int64_t>(v.size()) - margin;
  for (int64_t i = margin; i < end; ++i) s += v[i] * v[i];
  return std::sqrt(s / static_cast<double>(end - margin));
}

TEST(AudioResample, LengthIsCeilOfTheRatio) {
  EXPECT_EQ(resample(zeros({441}), 44100, 16000).size(0), 160);
  EXPECT_EQ(resample(zeros({442}), 44100, 16000).size(0), 161);
  EXPECT_EQ(resample(zeros({3}), 8000, 16000).size(0), 6);
  EXPECT_EQ(resample(zeros({0}), 48000, 16000).size(0), 0);
  const Tensor x = sine(440, 16000, 100);
  EXPECT_TRUE(resample(x, 16000, 16000).shares_storage(x));
}

TEST(AudioResample, RejectsBadArguments) {
  EXPECT_THROW(resample(zeros({10}), 0, 16000), Error);
  EXPECT_THROW(resample(zeros({10, 2}), 48000, 16000), Error);
  EXPECT_THROW(resample(zeros({10}, DType::kF64), 48000, 16000), Error);
  ResampleOptions bad;
  bad.rolloff = 1.5;
  EXPECT_THROW(resample(zeros({10}), 48000, 16000, bad), Error);
}

// Tones inside the passband come through at their frequency with their
// amplitude: down (48 -> 16 kHz, 44.1 -> 16 kHz) and up (8 -> 16 kHz).
TEST(AudioResample, PassbandTonesKeepFrequencyAndAmplitude) {
  struct Case {
    int64_t from, to;
    double freq;
  };
  for (const Case& c :
       {Case{48000, 16000, 1000.0}, Case{48000, 16000, 7000.0}, Case{44100, 16000, 440.0},
        Case{44100, 16000, 5000.0}, Case{8000, 16000, 3500.0}, Case{22050, 16000, 6000.0}}) {
    const int64_t n = c.from / 4;  // 0.25 s
    const Tensor y = resample(sine(c.freq, c.from, n), c.from, c.to);
    const Fit fit = fit_tone(y, c.freq, c.to, c.to / 50);  // skip 20 ms at each end
    SCOPED_TRACE(::testing::Message() << c.from << " -> " << c.to << " Hz, tone " << c.freq);
    EXPECT_NEAR(fit.amplitude, 0.5, 0.5 * 1e-3);  // within 0.01 dB
    EXPECT_LT(fit.residual, 0.5 * 1e-4);          // anything else below -86 dB
  }
}

// Tones above the new Nyquist rate would alias; the filter removes them by
// more than 80 dB.
TEST(AudioResample, StopbandTonesAreRemoved) {
  for (const double freq : {8100.0, 9000.0, 12000.0, 20000.0}) {
    const Tensor y = resample(sine(freq, 48000, 12000), 48000, 16000);
    EXPECT_LT(rms(y, 320) / (0.5 / std::sqrt(2.0)), 1e-4) << "tone " << freq << " Hz";
  }
}

// Rates whose phase table would be large (L = 16000 phases) take the
// per-sample path; it computes the same taps.
TEST(AudioResample, OddRatePairsUseTheSameFilter) {
  const Tensor x = sine(1000.0, 44101, 4410);
  const Tensor y = resample(x, 44101, 16000);
  EXPECT_EQ(y.size(0), (4410 * 16000 + 44100) / 44101);
  const Fit fit = fit_tone(y, 1000.0, 16000, 320);
  EXPECT_NEAR(fit.amplitude, 0.5, 0.5 * 1e-3);
  EXPECT_LT(fit.residual, 0.5 * 1e-4);
}

TEST(AudioResample, ConstantSignalKeepsItsLevel) {
  const Tensor y = resample(full({4800}, 0.25), 48000, 16000);
  const std::vector<double> v = to_vector(y);
  for (size_t i = 300; i + 300 < v.size(); ++i) ASSERT_NEAR(v[i], 0.25, 1e-5) << i;
}

}  // namespace
}  // namespace kiln::data
